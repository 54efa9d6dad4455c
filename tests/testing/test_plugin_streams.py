"""A user's test suite whose driver closes the test's output: the driver fails, pytest goes on.

Each case runs pytest in a child process, as a driver author runs their own suite: a closed
capture used to end the whole run with pytest's own traceback.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = '''
from iokit_host.testing import assert_failed

HERE = __import__("pathlib").Path(__file__).parent

def test_driver_fails(iokit_host):
    assert_failed(iokit_host(kexts=[HERE / "closer"]), "Closer", reason="may not close")

def test_after():
    print("still captured")
    assert False, "the next test still reports"
'''

DRIVER = '''
import sys
from iokit_sdk import IOService

class Closer(IOService):
    def start(self, provider):
        sys.{stream}.close()
        return True
'''


@pytest.mark.parametrize(("stream", "options"), [("stdout", []), ("stderr", []),
                                                 ("stdout", ["-s"])])
def test_closing_the_tests_output_fails_the_driver_and_the_run_reports(
        tmp_path: Path, stream: str, options: list[str]) -> None:
    folder = tmp_path / "closer"
    folder.mkdir()
    (folder / "Info.plist").write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.test.Closer", "CFBundleVersion": "1.0.0",
        "CFBundleExecutable": "closer",
        "OSBundleLibraries": {"com.apple.kpi.iokit": "9.0.0"},
        "IOKitPersonalities": {"Closer": {
            "CFBundleIdentifier": "com.test.Closer", "IOClass": "Closer",
            "IOProviderClass": "IOUSBHostInterface", "bInterfaceClass": 3,
            "bInterfaceSubClass": 1, "bInterfaceProtocol": 1}}}))
    (folder / "__init__.py").write_text(DRIVER.format(stream=stream), encoding="utf-8")
    (tmp_path / "test_closer.py").write_text(SUITE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *options, "test_closer.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    if not options:
        assert "still captured" in done.stdout
