"""``faulthandler.dump_traceback_later`` armed by driver code is refused and said (a running
kernel died two seconds on); the host's and a test harness's are armed as before."""

from __future__ import annotations

import faulthandler
from typing import Any

import pytest

from iokit_host.kernel import fault_timer
from iokit_host.kernel.driver_calls import DriverCalls, DriverFault
from iokit_host.kernel.watchdog import Watchdog


@pytest.fixture()
def armed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The timers really armed (none is: the interpreter's own function is replaced)."""
    seen: list[tuple[Any, ...]] = []
    monkeypatch.setattr(fault_timer, "_real_dump_later",
                        lambda *args, **kwargs: seen.append((args, kwargs)))
    return seen


def test_a_timer_armed_in_a_driver_call_is_refused_and_said(
        armed: list[tuple[Any, ...]]) -> None:
    calls = DriverCalls(Watchdog(None))
    result = calls.call(faulthandler.dump_traceback_later, 2, exit=True)
    assert not isinstance(result, DriverFault)
    assert armed == []
    said = ("called faulthandler.dump_traceback_later(2 s, exit=True), which would have "
            "printed every thread's traceback on stderr and ended the process (not armed)")
    assert fault_timer.take_refused() == [said]
    assert fault_timer.take_refused() == []  # said once


def test_a_timer_armed_outside_driver_calls_is_armed(armed: list[tuple[Any, ...]]) -> None:
    DriverCalls(Watchdog(None))
    faulthandler.dump_traceback_later(600, exit=False)  # a harness's hang report
    assert armed == [((600,), {"repeat": False, "exit": False})]
    assert fault_timer.take_refused() == []
