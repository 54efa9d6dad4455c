"""A user's test suite whose driver closes the test's output: the driver fails, pytest goes on.

Each case runs pytest in a child process, as a driver author runs their own suite: a closed
capture used to end the whole run with pytest's own traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testing.child_suite import run_child_suite

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
    done = run_child_suite(tmp_path, "Closer", DRIVER.format(stream=stream), SUITE, *options)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    if not options:
        assert "still captured" in done.stdout
