"""The host clock: simulated time in nanoseconds that tests drive (``mach_absolute_time``).

IOKit's waits (``waitForMatchingService`` with a timeout, power acknowledgement timers) run on
the kernel's clock. Here the clock only moves when someone advances it, and advancing runs
the timers that fall due in deadline order, so a test can say "10 ms later" without sleeping.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["HostClock", "Timer"]


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
        """The deadline of the next live timer, or None."""
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].deadline_ns if self._timers else None

    def advance(self, delta_ns: int) -> None:
        """Move time forward by ``delta_ns``, firing due timers in deadline order."""
        if delta_ns < 0:
            raise ValueError("the clock does not run backwards")
        self.advance_to(self._now + delta_ns)

    def advance_to(self, when_ns: int) -> None:
        while (deadline := self.next_deadline()) is not None and deadline <= when_ns:
            timer = heapq.heappop(self._timers)
            self._now = max(self._now, timer.deadline_ns)
            timer.callback()
        self._now = max(self._now, when_ns)
