"""A user's test suite whose driver leaves a thread running: warned of, and the run still ends.

Each case runs pytest in a child process, as a driver author runs their own suite: the thread
left running would otherwise keep the interpreter waiting for it for ever.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.testing.child_suite import run_child_suite

SUITE = '''
import threading
from iokit_host.testing import assert_bound

HERE = __import__("pathlib").Path(__file__).parent

def test_driver_starts(iokit_host):
    assert_bound(iokit_host(kexts=[HERE / "lingerer"]), "Lingerer")

def test_other():
    assert {outcome}
'''

DRIVER = '''
import threading
from iokit_sdk import IOService

class Lingerer(IOService):
    def start(self, provider):
        # Never set: the thread waits for ever, and is no daemon.
        threading.Thread(target=threading.Event().wait, name="lingerer-poll").start()
        return True
'''


def _suite(tmp_path: Path, *, passes: bool) -> subprocess.CompletedProcess[str]:
    return run_child_suite(tmp_path, "Lingerer", DRIVER, SUITE.format(outcome=passes))


def test_a_thread_left_running_is_warned_of_and_the_run_ends_with_its_status(
        tmp_path: Path) -> None:
    done = _suite(tmp_path, passes=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    assert "driver-thread-left-running" in done.stdout
    assert "'lingerer-poll'" in done.stdout
    assert "without waiting" in done.stderr


def test_a_failing_run_keeps_its_status(tmp_path: Path) -> None:
    done = _suite(tmp_path, passes=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
