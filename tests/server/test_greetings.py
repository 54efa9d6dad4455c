"""Hellos owed: each new connection has its time to say hello, on a clock the test drives."""

from __future__ import annotations

from typing import Any

import pytest

from iokit_host.server.greetings import HELLO_TIMEOUT_S, Greetings


class _Session:
    def __init__(self) -> None:
        self.ready = False
        self.gone = False


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _greetings(clock: _Clock) -> tuple[Greetings, Any, Any]:
    greetings = Greetings(clock)
    first, second = _Session(), _Session()
    greetings.expect(first)  # type: ignore[arg-type]
    clock.now += 4
    greetings.expect(second)  # type: ignore[arg-type]
    return greetings, first, second


def test_a_late_hello_is_overdue_in_the_order_they_connected() -> None:
    clock = _Clock()
    greetings, first, second = _greetings(clock)
    assert greetings.wait_s(None) == HELLO_TIMEOUT_S - 4  # the loop wakes for the first
    assert greetings.wait_s(1.0) == 1.0  # or sooner, for its own timers
    clock.now += HELLO_TIMEOUT_S - 4
    assert greetings.overdue() == [first]
    assert greetings.wait_s(None) == 4
    clock.now += 4
    assert greetings.overdue() == [second] and not greetings
    assert greetings.wait_s(None) is None


def test_a_session_that_said_hello_or_ended_is_never_overdue() -> None:
    clock = _Clock()
    greetings, first, second = _greetings(clock)
    first.ready = True
    assert greetings.wait_s(None) == HELLO_TIMEOUT_S  # the second's deadline only
    greetings.forget(second)
    clock.now += 2 * HELLO_TIMEOUT_S
    assert greetings.overdue() == [] and not greetings


def test_the_timeout_is_a_setting_and_a_bad_one_keeps_the_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOKIT_KERNEL_HELLO_TIMEOUT", "2.5")
    assert Greetings().timeout_s == 2.5
    monkeypatch.setenv("IOKIT_KERNEL_HELLO_TIMEOUT", "soon")
    assert Greetings().timeout_s == HELLO_TIMEOUT_S
