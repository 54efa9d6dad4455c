"""What a driver process's death sets off: the crash counted, the device rematched and driven
by a relaunched server, the daily limit kept on the host clock; a hang or a missed check-in is
a crash too."""

from __future__ import annotations

import os
import select
import signal

import pytest

from iokit_host.dext.crashes import WINDOW_NS

from .conftest import DEXT, DEXT_ID, EXIT_WAIT_S, camera, camera_driver, dexts, pid_alive


def _codes(host: object) -> list[str]:
    return [d.reference for d in host.diagnostics]  # type: ignore[attr-defined]


def _kill_and_notice(host, pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    assert dexts(host).poll(EXIT_WAIT_S) == [DEXT_ID]
    host.kernel.run_until_quiet()


def test_sigkill_relaunches_a_server_that_drives_the_device_again(dext_host):
    host = dext_host()
    old = dexts(host).rows()[0].pid
    _kill_and_notice(host, old)
    assert not pid_alive(old)
    row, = dexts(host).rows()
    assert row.pid not in (None, old) and row.crashes == 1 and row.launches == 2
    assert camera_driver(host).get_property("DriverPid") == row.pid
    assert "dext-client-crashed" in _codes(host)


def test_after_the_fourth_crash_in_a_day_no_relaunch_until_the_window_passes(dext_host):
    host = dext_host()
    for _ in range(4):
        _kill_and_notice(host, dexts(host).rows()[0].pid)
    row, = dexts(host).rows()
    assert (row.pid, row.state, row.crashes) == (None, "crash-limit", 4)
    assert camera_driver(host) is None
    limit = next(d for d in host.diagnostics if d.reference == "dext-crash-limit")
    assert "crashed 4 times within 24 hours" in limit.message
    assert "killed by SIGKILL" in (limit.hint or "")
    host.clock.advance(WINDOW_NS)  # host time, not real time
    host.kernel.run_until_quiet()
    assert camera_driver(host).get_property("DriverPid") == dexts(host).rows()[0].pid


@pytest.mark.parametrize(("mode", "how"), [
    ("start-exit", "exited with status 3 during start"),
    # the process's own way out of its serving loop was SystemExit too: this one was taken
    # for the kernel's 'exit', and the process reported as exiting with status 0
    ("start-sys-exit", "exited with status 5 during start"),
    ("start-raise", "RuntimeError: no firmware"),
    ("start-segv", "killed by SIGSEGV during start"),
])
def test_a_driver_dying_in_start_is_a_crash_and_the_host_goes_on(dext_host, mode, how):
    host = dext_host(mode=mode)
    assert camera_driver(host) is None
    crashed = next(d for d in host.diagnostics if d.reference == "dext-client-crashed")
    assert how in crashed.message
    assert dexts(host).rows()[0].crashes == 1
    assert host.booted and camera(host) is not None


def test_a_call_past_its_deadline_kills_the_server_and_counts(dext_host):
    host = dext_host(mode="start-hang", IOKIT_DEXT_CALL_TIMEOUT="0.5")
    crashed = next(d for d in host.diagnostics if d.reference == "dext-client-crashed")
    assert "did not answer start within 0.5 s and was killed" in crashed.message
    assert dexts(host).rows()[0].crashes == 1 and camera_driver(host) is None


def test_a_call_the_watchdog_abandons_kills_the_server_so_nothing_waits_on_it_again(dext_host):
    """The in-process watchdog gives up first (its limit is below the call deadline): the
    process that still owes the reply is killed and its crash handled at once, so stop, free
    and every later call fail fast instead of each waiting out the limit, and its server entry
    does not outlive it."""
    host = dext_host(mode="start-hang", IOKIT_DEXT_CALL_TIMEOUT="60", IOKIT_DRIVER_TIMEOUT="0.3")
    codes = _codes(host)
    assert codes.count("driver-call-timeout") == 1  # start alone, not stop and free after it
    crashed = next(d for d in host.diagnostics if d.reference == "dext-client-crashed")
    assert "did not answer start before the kernel abandoned the call" in crashed.message
    row, = dexts(host).rows()
    assert (row.crashes, row.pid) == (1, None) and camera_driver(host) is None
    assert not [s for s in host.kernel.services() if s.iokit_class_name == "IOUserServer"
                and DEXT_ID in s.get_name()]


def test_a_server_writing_garbage_on_its_channel_is_killed_at_once_and_counted(dext_host):
    """An unreadable frame is a protocol violation, not an exit: the kernel kills the process
    rather than waiting for it to exit on its own (it never would); no watchdog or deadline
    is needed to end the call."""
    host = dext_host(mode="start-garbage", IOKIT_DEXT_CALL_TIMEOUT="60", IOKIT_DRIVER_TIMEOUT="60")
    crashed = next(d for d in host.diagnostics if d.reference == "dext-client-crashed")
    assert "wrote an unreadable message during start" in crashed.message
    assert "driver-call-timeout" not in _codes(host)
    assert dexts(host).rows()[0].crashes == 1 and camera_driver(host) is None


def test_what_a_server_forked_goes_with_it(dext_host):
    """A driver process leads a process group: a child it forked (ignoring SIGTERM) is
    killed with it when it crashes, instead of running on without a kernel."""
    host = dext_host(mode="start-fork")
    child = camera_driver(host).get_property("ChildPid")
    watch = os.pidfd_open(child)
    try:
        _kill_and_notice(host, dexts(host).rows()[0].pid)
        assert select.select([watch], [], [], EXIT_WAIT_S)[0] == [watch]  # it exited
    finally:
        os.close(watch)
        if pid_alive(child):  # not left behind when the test fails
            os.kill(child, signal.SIGKILL)
    assert not pid_alive(child)


def test_a_server_that_never_checks_in_is_killed_and_counted(dext_host):
    host = dext_host(mode="import-hang", IOKIT_DEXT_CHECKIN_TIMEOUT="0.5")
    crashed = next(d for d in host.diagnostics if d.reference == "dext-client-crashed")
    assert "did not check in within 0.5 s" in crashed.message
    row, = dexts(host).rows()
    assert (row.launches, row.crashes, row.pid) == (0, 1, None)


def test_a_server_killed_while_sigchld_is_ignored_is_not_reported_as_a_clean_exit(dext_host):
    """With SIGCHLD ignored (a kext's ``signal.signal(SIGCHLD, SIG_IGN)`` at the moment it
    died) the system reaps the server itself and its status is gone: ``Popen.wait`` would say
    "exited with status 0". The crash says the status could not be read, and still counts."""
    host = dext_host()
    old = dexts(host).rows()[0].pid
    before = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        _kill_and_notice(host, old)
    finally:
        signal.signal(signal.SIGCHLD, before)
    crash = next(d.message for d in host.diagnostics if d.reference == "dext-client-crashed")
    assert "status 0" not in crash
    assert "exit status could not be read" in crash and "SIGCHLD was ignored" in crash
    row, = dexts(host).rows()
    assert row.crashes == 1 and row.pid not in (None, old)


_IGNORER = '''\
import signal

from iokit_sdk import IOService


class ChildIgnorer(IOService):
    def start(self, provider):
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        return True
'''


def test_a_kext_ignoring_sigchld_does_not_hide_how_a_server_died_later(dext_host, tmp_path,
                                                                      monkeypatch):
    """A kext's ``signal.signal(SIGCHLD, SIG_IGN)`` in its start made every later death of a
    driver process read "exited with status 0": it is put back after the kext's job, and
    the server killed afterwards is reported as killed."""
    import plistlib

    kext = tmp_path / "iokit_test_chld_ignorer"
    kext.mkdir()
    (kext / "__init__.py").write_text(_IGNORER)
    (kext / "Info.plist").write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.example.test.chldignorer", "CFBundleVersion": "1.0",
        "OSBundleLibraries": {"com.apple.kpi.iokit": "8.0"},
        "IOKitPersonalities": {"Ignorer": {
            "IOClass": "ChildIgnorer", "IOProviderClass": "IOResources",
            "IOResourceMatch": "IOKit", "IOMatchCategory": "ChildIgnorer"}}}))
    monkeypatch.syspath_prepend(str(tmp_path))
    host = dext_host(DEXT, kext)
    assert signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL
    assert any(d.reference == "driver-changed-host" and "SIGCHLD" in d.message
               for d in host.diagnostics)
    _kill_and_notice(host, dexts(host).rows()[0].pid)
    crash = next(d.message for d in host.diagnostics if d.reference == "dext-client-crashed")
    assert "killed by SIGKILL" in crash
