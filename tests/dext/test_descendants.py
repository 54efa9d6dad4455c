"""A driver process's descendants: a helper the dext daemonized (``setsid``, double fork: out
of the driver process's group, orphaned) still goes when the driver process goes, whether the
kernel stops it or the kernel's own process is gone (its life pipe closes)."""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from iokit_host.host import IOKitHost

from .conftest import DEXT_ID, EXIT_WAIT_S, camera_driver, dexts, pid_alive


@contextmanager
def _watched(host: IOKitHost) -> Iterator[tuple[int, int]]:
    """The daemonized helper's pid and a pidfd that turns readable when it exits."""
    daemon = camera_driver(host).get_property("DaemonPid")
    assert pid_alive(daemon) and os.getsid(daemon) != os.getsid(0)  # it left the session
    watch = os.pidfd_open(daemon)
    try:
        yield daemon, watch
    finally:
        os.close(watch)
        if pid_alive(daemon):  # never left behind, even when the test fails
            os.kill(daemon, signal.SIGKILL)


def test_a_daemonized_helper_goes_when_the_kernel_stops_its_driver_process(
        dext_host: Callable[..., IOKitHost]) -> None:
    host = dext_host(mode="start-daemon")
    with _watched(host) as (daemon, watch):
        dexts(host).shutdown()
        assert select.select([watch], [], [], EXIT_WAIT_S)[0] == [watch]
        assert not pid_alive(daemon)


def test_a_daemonized_helper_goes_when_the_kernel_itself_is_gone(
        dext_host: Callable[..., IOKitHost]) -> None:
    """The life pipe closing is what a killed kernel looks like to its driver processes."""
    host = dext_host(mode="start-daemon")
    (record,) = [r for key, r in dexts(host).servers.items() if key == DEXT_ID]
    process = record.process
    with _watched(host) as (daemon, watch):
        assert process._life_w is not None
        os.close(process._life_w)
        process._life_w = None
        assert select.select([watch], [], [], EXIT_WAIT_S)[0] == [watch]
        assert not pid_alive(daemon)
