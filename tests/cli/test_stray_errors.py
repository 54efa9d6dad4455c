"""A driver's exceptions nobody can catch (its thread's, its finalizer's, its exit handler's)
reach the user as one warning line each, never a traceback, and the command still finishes:
real ``iokit boot`` subprocesses over a real installed kext."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kext.dists import installed_kext

ID = "com.example.stray"
MANIFEST = {
    "CFBundleIdentifier": ID, "CFBundleVersion": "1.0",
    "OSBundleLibraries": {"com.apple.kpi.iokit": "8.0"},
    "IOKitPersonalities": {"Stray": {"IOProviderClass": "IOPCIDevice", "IOClass": "Stray",
                                     "IOPCIMatch": "0x000014e4&0x0000ffff",
                                     "IOProbeScore": 10000}},
}
STARTS = {
    # joined by name: the last of threading.enumerate() may be the watchdog's own thread
    "thread": "worker = threading.Thread(target=lambda: 1 / 0, name='stray-worker')\n"
              "        worker.start()\n        worker.join()",
    "finalizer": "class Dropped:\n            def __del__(self):\n"
                 "                raise ValueError('in del')\n        Dropped()",
    "atexit": "atexit.register(lambda: {}['missing'])",
}
EXPECTED = {
    "thread": "warning[stray-exception]: thread stray-worker raised ZeroDivisionError",
    "finalizer": "warning[stray-exception]: Stray.start.<locals>.Dropped.__del__ raised "
                 "ValueError: in del",
    # registered in start: held by the host and run as a driver call (kernel/exit_handlers.py)
    "atexit": "warning[driver-exit-handler-failed]: exit handler Stray.start.<locals>.<lambda> "
              "(registered by stray_kext.Stray.start) raised KeyError: 'missing'",
}


def _site(root: Path, start: str) -> Path:
    return installed_kext(root, "stray_kext", ID, (
        "import atexit, threading\nfrom iokit_sdk import IOService\n\n\n"
        f"class Stray(IOService):\n    def start(self, provider):\n        {start}\n"
        "        return True\n"), MANIFEST)


@pytest.mark.parametrize("where", sorted(STARTS))
def test_a_drivers_uncatchable_exception_is_one_warning(where: str, tmp_path: Path,
                                                         wifi_machine: Path) -> None:
    site = _site(tmp_path / "site", STARTS[where])
    env = {**os.environ, "PYTHONPATH": str(site), "IOKIT_NO_CACHE": "1"}
    env.pop("IOKIT_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "iokit_host", "boot", "--machine",
                             str(wifi_machine)], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "+-o Stray" in result.stdout  # the driver started; the boot went on to the end
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning[")]
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith(EXPECTED[where])
