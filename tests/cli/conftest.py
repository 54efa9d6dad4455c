"""Shared CLI test inputs: a one-card machine model file."""

from __future__ import annotations

from pathlib import Path

import pytest

WIFI_MACHINE = """\
[machine]
name = "wifi"
description = "one Broadcom Wi-Fi card"

[[nub]]
id = "root"
class = "IOPlatformExpertDevice"
name = "TestMac"

[[nub]]
parent = "root"
class = "IOPCIDevice"
name = "pci14e4,4331"
location = "0"
[nub.properties]
"vendor-id" = { data = "e4140000" }
"""


@pytest.fixture()
def wifi_machine(tmp_path: Path) -> Path:
    """A machine with one Broadcom Wi-Fi nub (vendor-id 0x14e4) under a platform expert."""
    path = tmp_path / "machine.toml"
    path.write_text(WIFI_MACHINE)
    return path
