"""Shared steps for the tests of what crosses besides the lifecycle (the ``iokit_test_remote``
dext): boot it, message its driver through the kernel's hooks, kill it and see it relaunched."""

from __future__ import annotations

import os
import select
import signal
from typing import Any

from iokit_host.host import IOKitHost

from .conftest import EXIT_WAIT_S, KEXTS, camera, dexts

REMOTE = KEXTS / "iokit_test_remote"
REMOTE_ID = "com.example.test.remote"
REPORT, READ_KEY, READ_LATER, DIE = 0x1000, 0x1001, 0x1002, 0x1003


def remote_driver(host: IOKitHost) -> Any:
    """The live RemoteDriver proxy on the camera, or None."""
    for client in camera(host).get_clients():
        if not client.is_inactive() and client.get_name() == "RemoteDriver":
            return client
    return None


def message(host: IOKitHost, message_type: int, argument: Any = None) -> Any:
    """Send ``message`` to the driver through the kernel's hook, as the kernel does; the
    driver's properties then show everything it did before answering."""
    driver = remote_driver(host)
    return host.kernel.hook.iokit_message(service=driver, provider=camera(host),
                                          message_type=message_type, argument=argument)


def settle(host: IOKitHost) -> None:
    """Let the process finish the notifications it was sent. A handler waiting on a kernel
    answer is answered during the next call (at least one question per call), whose reply it
    does not wait for; the test driver's handlers ask at most three questions between two
    records, so once its properties stay the same for four calls every handler is done."""
    before: Any = None
    stable = 0
    for _ in range(40):
        message(host, REPORT)
        now = remote_driver(host).copy_properties()
        stable = stable + 1 if now == before else 0
        if stable == 4:
            return
        before = now
    raise AssertionError("the driver process never settled")


def pid_of(host: IOKitHost) -> int:
    pid = remote_driver(host).get_property("DriverPid")
    assert isinstance(pid, int) and pid != os.getpid()
    return pid


def notice_death(host: IOKitHost, pid: int, *, kill: bool = True) -> None:
    """SIGKILL ``pid`` (or, ``kill`` False, it died during a call and the kernel reaped it
    then), let the kernel notice and rematch."""
    if kill:
        watch = os.pidfd_open(pid)
        try:
            os.kill(pid, signal.SIGKILL)
            assert select.select([watch], [], [], EXIT_WAIT_S)[0], f"{pid} did not exit"
        finally:
            os.close(watch)
        assert dexts(host).poll(EXIT_WAIT_S)
    host.kernel.run_until_quiet()


def relaunched(host: IOKitHost, old: int) -> int:
    """The camera is driven again, by a new process; the crash was counted."""
    row, = dexts(host).rows()
    assert row.crashes == 1 and row.state == "running"
    new = pid_of(host)
    assert new != old and row.pid == new
    return new
