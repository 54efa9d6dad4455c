"""A driver call blocked in one of ``threading``'s waits (an ``Event`` nobody sets, a ``Queue``
nobody fills, a thread that never ends) is abandoned at its limit, as Ctrl-C ends such a wait;
a wait the host's own code makes for the driver is left alone."""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType, FunctionType
from typing import Any

import pytest

from iokit_host.kernel import watchdog as watchdog_module
from iokit_host.kernel.driver_calls import DriverCalls, DriverFault
from iokit_host.kernel.driver_frames import waits_for_driver
from iokit_host.kernel.stdlib_waits import blocked_in_wait, waiting_frames
from iokit_host.kernel.watchdog import DrivenTime, DriverCallTimeout, Watchdog

#: Real seconds a wait gives up after: long past any watchdog here, short enough that a
#: watchdog that never ends it fails the test rather than hanging it.
GIVE_UP_S = 10.0


def _never_set() -> None:
    threading.Event().wait(GIVE_UP_S)


def _never_notified() -> None:
    condition = threading.Condition()
    with condition:
        condition.wait(GIVE_UP_S)


def _never_filled() -> None:
    queue.Queue().get(timeout=GIVE_UP_S)


def _never_ends() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, daemon=True)
    worker.start()
    try:
        worker.join(GIVE_UP_S)
    finally:
        stop.set()


WAITS: dict[str, Callable[[], None]] = {"Event.wait": _never_set,
                                        "Condition.wait": _never_notified,
                                        "Queue.get": _never_filled, "Thread.join": _never_ends}


def _innermost_module(error: BaseException) -> str:
    """The module of the code the watchdog's exception interrupted (its handler aside)."""
    modules = []
    trace = error.__traceback__
    while trace is not None:
        modules.append(str(trace.tb_frame.f_globals.get("__name__")))
        trace = trace.tb_next
    return [m for m in modules if m != watchdog_module.__name__][-1]


def _frame_of(thread: threading.Thread) -> FrameType:
    """The frame ``thread`` runs once it blocks in a wait (looked at until then)."""
    while True:
        assert thread.ident is not None
        frame = sys._current_frames().get(thread.ident)
        if frame is not None and blocked_in_wait(frame):
            return frame


@pytest.fixture
def blocked() -> Iterator[Callable[[Callable[[], None]], FrameType]]:
    """Run a function in a thread and give the frame it blocks in; its wait is ended after."""
    release = threading.Event()
    threads: list[threading.Thread] = []

    def start(caller: Callable[[threading.Event], None]) -> FrameType:
        thread = threading.Thread(target=caller, args=(release,), daemon=True)
        thread.start()
        threads.append(thread)
        return _frame_of(thread)

    yield start  # type: ignore[misc]
    release.set()
    for thread in threads:
        thread.join(60)


def _host_waiter(release: threading.Event) -> None:
    """Stands for the host's code (its module is iokit_host's) waiting for the driver."""
    release.wait()


def _as_host(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as the watchdog sees the host's code: its module is iokit_host's."""
    scope = {"__name__": "iokit_host.test_host_code"}
    return FunctionType(function.__code__, scope, function.__name__)


def test_a_driver_waiting_on_an_event_is_found_waiting_and_its_own_frame_named(
        blocked: Callable[[Callable[..., None]], FrameType]) -> None:
    def driver(release: threading.Event) -> None:
        release.wait()

    frame = blocked(driver)
    assert frame.f_code is threading.Condition.wait.__code__
    caller = waiting_frames(frame, 100)
    assert caller is not None and caller.f_code is driver.__code__  # Event.wait skipped over
    assert waits_for_driver(frame)


def test_a_wait_the_hosts_code_makes_is_not_the_drivers(
        blocked: Callable[[Callable[..., None]], FrameType]) -> None:
    frame = blocked(_as_host(_host_waiter))
    caller = waiting_frames(frame, 100)
    assert caller is not None and caller.f_globals["__name__"] == "iokit_host.test_host_code"
    assert not waits_for_driver(frame)


def test_a_frame_running_rather_than_waiting_is_no_wait() -> None:
    frame = sys._getframe()
    assert not blocked_in_wait(frame) and waiting_frames(frame, 100) is None


@pytest.mark.parametrize("wait", list(WAITS), ids=list(WAITS))
def test_a_call_blocked_in_a_wait_is_abandoned_at_its_limit(wait: str) -> None:
    clock = DrivenTime()
    calls = DriverCalls(Watchdog(5.0, clock=clock))
    main = threading.current_thread()
    ended_in: list[str] = []

    def driver() -> None:
        try:
            WAITS[wait]()
        except DriverCallTimeout as error:
            ended_in.append(_innermost_module(error))
            raise

    def tick() -> None:
        # Once the driver is blocked, time passes: the watchdog times a call from when it
        # first sees it, so the clock keeps moving until the call has ended.
        _frame_of(main)
        while not returned.is_set():
            clock.advance(1.0)

    returned = threading.Event()
    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        with calls.watchdog.armed():
            fault = calls.call(driver)
    finally:
        returned.set()
        calls.watchdog.close()
        ticker.join(60)
    assert isinstance(fault, DriverFault) and fault.timed_out
    # Raised in the wait itself: not once it gave up by itself, GIVE_UP_S later, and the
    # driver's code resumed (all the old watchdog could do: Event().wait() hung for ever).
    assert ended_in == ["threading"]
    assert calls.call(lambda: "next") == "next"
