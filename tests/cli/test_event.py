"""``iokit event``: the scenario is read here (damaged events named), a missing kernel is one
clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _event(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iokit_host", "event", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_an_unreadable_scenario_fails_before_any_kernel_is_asked(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text("[[event]\n", encoding="utf-8")
    result = _event(str(scenario), "--kernel", "/nonexistent/k.sock")
    assert result.returncode == 1 and "scenario-invalid" in result.stderr
    assert "kernel-unreachable" not in result.stderr


def test_without_a_running_kernel_it_says_where_it_looked(tmp_path: Path) -> None:
    scenario = tmp_path / "ok.toml"
    scenario.write_text('[[event]]\naction = "publish"\nresource = "Radio"\n', encoding="utf-8")
    result = _event(str(scenario), "--kernel", "/nonexistent/k.sock")
    assert result.returncode == 1
    assert "kernel-unreachable" in result.stderr and "/nonexistent/k.sock" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_device_is_refused_before_it_is_read() -> None:
    """It read 64 MiB of /dev/zero before refusing it, where boot --events refuses at once."""
    result = _event("/dev/zero", "--kernel", "/nonexistent/k.sock")
    assert result.returncode == 2 and "/dev/zero is a device, not a file" in result.stderr
