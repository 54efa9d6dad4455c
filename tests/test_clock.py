"""The host clock (``mach_absolute_time``): 64 bits of nanoseconds, and no further."""

from __future__ import annotations

import pytest

from iokit_host.clock import MAX_NS, ClockOverflowError, HostClock


def test_a_move_past_2_64_ns_is_refused_and_the_clock_stays() -> None:
    # A scenario's advances once took the clock to years past 2554, which IOKit never shows.
    clock = HostClock(MAX_NS - 10)
    fired: list[int] = []
    clock.call_at(MAX_NS - 5, lambda: fired.append(clock.now_ns()))
    with pytest.raises(ClockOverflowError, match=r"would pass 2\*\*64-1 ns") as caught:
        clock.advance(11)
    assert caught.value.diagnostic.reference == "clock-overflow"
    assert "at most 10 ns" in (caught.value.diagnostic.hint or "")
    assert clock.now_ns() == MAX_NS - 10 and fired == []  # refused before any timer ran
    clock.advance(10)
    assert clock.now_ns() == MAX_NS and fired == [MAX_NS - 5]


def test_a_timer_due_past_the_end_of_the_clock_is_never_due() -> None:
    clock = HostClock(MAX_NS - 1)
    clock.call_later(2, lambda: None)
    assert clock.next_deadline() is None
    clock.advance_to(MAX_NS)
    assert clock.now_ns() == MAX_NS
