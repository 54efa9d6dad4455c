"""A driver author's own test suite, run by pytest in a child process: one kext of a single
USB keyboard personality (the plugin's default machine has its nub) and one test module."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path


def run_child_suite(tmp_path: Path, driver_class: str, driver: str, suite: str,
                    *options: str) -> subprocess.CompletedProcess[str]:
    """Write the kext ``<driver_class lowercased>/`` (its ``__init__`` is ``driver``) and
    ``test_<that>.py`` (``suite``) in ``tmp_path``, and run pytest on them there."""
    name = driver_class.lower()
    folder = tmp_path / name
    folder.mkdir()
    bundle_id = f"com.test.{driver_class}"
    (folder / "Info.plist").write_bytes(plistlib.dumps({
        "CFBundleIdentifier": bundle_id, "CFBundleVersion": "1.0.0",
        "CFBundleExecutable": name,
        "OSBundleLibraries": {"com.apple.kpi.iokit": "9.0.0"},
        "IOKitPersonalities": {driver_class: {
            "CFBundleIdentifier": bundle_id, "IOClass": driver_class,
            "IOProviderClass": "IOUSBHostInterface", "bInterfaceClass": 3,
            "bInterfaceSubClass": 1, "bInterfaceProtocol": 1}}}))
    (folder / "__init__.py").write_text(driver, encoding="utf-8")
    (tmp_path / f"test_{name}.py").write_text(suite, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *options, f"test_{name}.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
