"""Trace and profile functions a driver call installs are taken out when it returns, its
fault; one the host already ran under (a debugger, coverage) is left alone."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from iokit_host.kernel.driver_calls import DriverCalls, DriverFault
from iokit_host.kernel.watchdog import Watchdog


@pytest.fixture
def calls() -> Iterator[DriverCalls]:
    calls = DriverCalls(Watchdog(None))
    yield calls
    sys.settrace(None)  # whatever a failing test left
    sys.setprofile(None)
    threading.settrace(None)  # type: ignore[arg-type]
    threading.setprofile(None)  # type: ignore[arg-type]


def _installs(install: Callable[[Any], None], tracer: Any) -> Callable[[], str]:
    def driver() -> str:
        install(tracer)
        return "started"
    return driver


def _host_frames(seen: list[str]) -> Any:
    def tracer(frame: FrameType, event: str, arg: Any) -> None:
        seen.append(frame.f_code.co_filename)
    return tracer


@pytest.mark.parametrize("install", [sys.settrace, sys.setprofile, threading.settrace,
                                     threading.setprofile],
                         ids=["settrace", "setprofile", "thread-settrace", "thread-setprofile"])
def test_a_tracer_a_driver_installs_is_taken_out_and_is_its_fault(
        calls: DriverCalls, install: Callable[[Any], None]) -> None:
    seen: list[str] = []
    fault = calls.call(_installs(install, _host_frames(seen)))
    assert isinstance(fault, DriverFault) and fault.reference("x") == "driver-changed-host"
    assert f"({install.__module__}.{install.__name__})" in fault.reason("start")
    assert (sys.gettrace(), sys.getprofile()) == (None, None)
    assert (threading.gettrace(), threading.getprofile()) == (None, None)
    seen.clear()
    assert calls.call(divmod, 7, 2) == (3, 1)  # and it runs no more in the host's code
    assert seen == []


def test_a_tracer_that_raises_in_the_hosts_code_ends_only_the_call(calls: DriverCalls) -> None:
    def tracer(frame: FrameType, event: str, arg: Any) -> None:
        raise SystemExit("in every frame")  # would end the host, were it run there

    fault = calls.call(_installs(sys.setprofile, tracer))
    assert isinstance(fault, DriverFault)
    assert sys.getprofile() is None
    assert calls.call(divmod, 7, 2) == (3, 1)


def test_a_tracer_the_host_runs_under_is_left_alone(calls: DriverCalls) -> None:
    seen: list[str] = []
    mine = _host_frames(seen)
    sys.setprofile(mine)
    try:
        result = calls.call(divmod, 7, 2)
    finally:
        sys.setprofile(None)
    assert result == (3, 1) and seen  # no fault, and the host's tracer saw the call
