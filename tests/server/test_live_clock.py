"""The running kernel's clock: host-clock timers fall due as (driven) wall time passes."""

from __future__ import annotations

from typing import Any

from hostkit import make_host
from iokit_sdk.messages import kIOMessageSystemWillSleep
from iokit_sdk.pm import IOPowerStateChangeNotification
from iokit_sdk.returns import IOReturn
from iokit_sdk.service import IOService

from iokit_host.host import IOKitHost
from iokit_host.server.live_clock import LiveClock

SECOND = 1_000_000_000


class Wall:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.ns = 7 * SECOND

    def __call__(self) -> int:
        return self.ns


def _host() -> IOKitHost:
    return make_host([], []).boot()


class Silent(IOService):
    """A sleep/wake client that asks for time and never answers."""

    def message(self, message_type: int, provider: IOService | None, argument: Any = None) -> int:
        if message_type == kIOMessageSystemWillSleep:
            assert isinstance(argument, IOPowerStateChangeNotification)
            argument.return_value = 30_000_000  # 30 s, the most IOKit waits
        return IOReturn.SUCCESS


def _silent_client(host: IOKitHost) -> None:
    silent = Silent()
    silent._kernel = host.kernel
    host.power.register_priority_sleep_wake_interest(silent)


def test_timers_run_in_wall_time_only_while_power_waits() -> None:
    host, wall = _host(), Wall()
    live = LiveClock(host, wall)
    fired: list[int] = []
    start = host.clock.now_ns()
    host.clock.call_later(5 * SECOND, lambda: fired.append(host.clock.now_ns()))
    assert live.wait_s() is None  # nothing waits: the clock stands still (idle timers too)
    wall.ns += 10 * SECOND
    assert not live.run_due() and fired == []
    wall.ns -= 10 * SECOND
    _silent_client(host)
    assert host.power.request_transition("sleep", "Software Sleep").result is None
    assert live.wait_s() == 5.0  # select waits no longer than the next timer
    wall.ns += 4 * SECOND
    assert not live.run_due() and fired == []
    assert live.wait_s() == 1.0
    wall.ns += 2 * SECOND
    assert live.run_due()
    assert fired == [start + 5 * SECOND] and host.clock.now_ns() == start + 6 * SECOND


def test_a_client_that_never_answers_holds_a_sleep_only_30_seconds() -> None:
    host, wall = _host(), Wall()
    live = LiveClock(host, wall)
    _silent_client(host)
    transition = host.power.request_transition("sleep", "Software Sleep")
    assert transition.result is None and live.wait_s() is not None
    wall.ns += 29 * SECOND
    live.run_due()
    assert transition.result is None
    wall.ns += 2 * SECOND
    while live.run_due():
        pass
    assert transition.result == "asleep"
