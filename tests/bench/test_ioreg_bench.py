"""ioreg rendering of a 10,000-entry registry (text, archive, JSON)."""

from __future__ import annotations

import pytest
from iokit_sdk.service import IOService
from iokit_sdk.values import OSNumber

from iokit_host.ioreg import IoregOptions, render_archive, render_json, render_text
from iokit_host.registry import IORegistry

pytestmark = pytest.mark.bench


def _big_registry(count: int = 10_000) -> IORegistry:
    registry = IORegistry()
    props = {"IOName": "pci-bridge", "reg": b"\x00\xe1" * 10, "vendor-id": OSNumber(0x8086, 32),
             "IOPowerManagement": {"MaxPowerState": 2, "CurrentPowerState": 2}}
    parents = [registry.root]
    for index in range(count - 1):
        entry = IOService(props, name=f"N{index}", location=f"{index:x}")
        registry.attach(entry, parents[index // 8], "IOService")
        parents.append(entry)
    return registry


@pytest.mark.parametrize("render", [render_text, render_archive, render_json])
def test_render_10k(benchmark, render) -> None:  # type: ignore[no-untyped-def]
    registry = _big_registry()
    output = benchmark(render, registry, IoregOptions(list_properties=True))
    assert len(output) > 10_000 * 50
