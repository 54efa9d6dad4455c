"""The running kernel's clock: host-clock timers fall due as wall time passes.

A booted host's clock is driven (tests move it); a running kernel has nobody to drive it, so a
timer armed there (a sleep/wake client's 30 s to answer, an acknowledgement timeout, an idle
timer) would never fire, and a program that never answers ``kIOMessageSystemWillSleep`` would
hold a sleep forever. :class:`LiveClock` maps wall time onto the host clock from the moment
the kernel starts serving: while power management waits (an answer, an acknowledgement, a
transition), the front end waits in ``select`` no longer than the next timer and then advances
the host clock to the wall time reached, which runs the due timers and the power work they
start ("tardy equates to approval"). Otherwise the clock stands still, as before: idle timers
do not step devices down behind the tools' backs (``ioreg --kernel`` shows what a boot shows),
and a kernel at rest pays one check per round.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from iokit_host.clock import MAX_NS
from iokit_host.host import IOKitHost

__all__ = ["LiveClock"]


class LiveClock:
    """Wall time (``monotonic_ns``) mapped onto ``host``'s clock."""

    def __init__(self, host: IOKitHost,
                 monotonic_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self.host = host
        # The kernel's for good: asked every round of the front end's loop.
        self._clock = host.clock
        self._power = host.power
        self._monotonic_ns = monotonic_ns
        self._wall_anchor = monotonic_ns()
        self._clock_anchor = host.clock.now_ns()

    def _reached(self) -> int:
        """The host-clock time wall time has reached."""
        return self._clock_anchor + (self._monotonic_ns() - self._wall_anchor)

    def wait_s(self) -> float | None:
        """How long ``select`` may wait before the next timer is due (None: no timer)."""
        if not self._power.busy:  # first: the common answer, and the cheaper question
            return None
        deadline = self._clock.next_deadline()
        if deadline is None:
            return None
        return max(0.0, (deadline - self._reached()) / 1e9)

    def run_due(self) -> bool:
        """Advance the host clock to wall time if a timer is due; True when it did."""
        if not self._power.busy:
            return False
        clock = self._clock
        deadline = clock.next_deadline()
        if deadline is None:
            return False
        reached = min(self._reached(), MAX_NS)  # (the clock ends there; wall time does not)
        if deadline > reached:
            return False
        self._power.advance(max(0, reached - clock.now_ns()) / 1e6)
        return True
