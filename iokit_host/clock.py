"""The host clock: simulated time in nanoseconds that tests drive (``mach_absolute_time``).

IOKit's waits (``waitForMatchingService`` with a timeout, power acknowledgement timers) run on
the kernel's clock. Here the clock only moves when someone advances it, and advancing runs
the timers that fall due in deadline order, so a test can say "10 ms later" without sleeping.

``mach_absolute_time`` is a ``uint64_t``: the clock ends at :data:`MAX_NS` (about 584 years of
nanoseconds). A move past it is refused (:class:`ClockOverflowError`, before any timer runs),
not carried out to a time IOKit could never show; a timer due past it never fires.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from iokit_host.errors import IOKitError

__all__ = ["MAX_NS", "ClockOverflowError", "HostClock", "Timer"]

#: The last time the clock can show: ``mach_absolute_time`` counts in 64 bits.
MAX_NS = (1 << 64) - 1


class ClockOverflowError(IOKitError):
    reference = "clock-overflow"


@dataclass(order=True, slots=True)
class Timer:
    """A callback due at ``deadline_ns``; cancel it with :meth:`cancel`."""

    deadline_ns: int
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class HostClock:
    """Driven time. ``now_ns`` starts at ``start_ns`` and moves only through ``advance``."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._timers: list[Timer] = []
        self._seq = itertools.count()

    def now_ns(self) -> int:
        return self._now

    def call_at(self, deadline_ns: int, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` when the clock reaches ``deadline_ns`` (at once if already past)."""
        timer = Timer(deadline_ns, next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def call_later(self, delay_ns: int, callback: Callable[[], None]) -> Timer:
        return self.call_at(self._now + delay_ns, callback)

    def next_deadline(self) -> int | None:
        """The deadline of the next live timer, or None (also when the next one falls past
        :data:`MAX_NS`: the clock never gets there)."""
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        if not self._timers or self._timers[0].deadline_ns > MAX_NS:
            return None
        return self._timers[0].deadline_ns

    def advance(self, delta_ns: int) -> None:
        """Move time forward by ``delta_ns``, firing due timers in deadline order.

        :raises ClockOverflowError: the clock would pass :data:`MAX_NS`; it is not moved.
        """
        if delta_ns < 0:
            raise ValueError("the clock does not run backwards")
        self.advance_to(self._now + delta_ns)

    def advance_to(self, when_ns: int) -> None:
        """Move time forward to ``when_ns`` (not back), firing due timers in deadline order.

        :raises ClockOverflowError: ``when_ns`` is past :data:`MAX_NS`; the clock is not moved.
        """
        if when_ns > MAX_NS:
            raise ClockOverflowError(
                f"the host clock would pass 2**64-1 ns, the last time mach_absolute_time shows: "
                f"it stands at {self._now} ns, {when_ns - self._now} ns were asked for",
                hint=f"at most {MAX_NS - self._now} ns ({(MAX_NS - self._now) // 1_000_000} ms)"
                " are left; a scenario's times and advances add up to at most 2**64-1 ns")
        while (deadline := self.next_deadline()) is not None and deadline <= when_ns:
            timer = heapq.heappop(self._timers)
            self._now = max(self._now, timer.deadline_ns)
            timer.callback()
        self._now = max(self._now, when_ns)
