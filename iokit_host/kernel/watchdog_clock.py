"""The time a driver-call watchdog measures calls with: real, or driven by a test.

IOKit times a slow ``start`` on the host's clock (``mach_absolute_time``); the model's
watchdog (:mod:`iokit_host.kernel.watchdog`) takes its clock as a parameter, so a test's
hanging driver is abandoned by moving :class:`DrivenTime` rather than by sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol

__all__ = ["DrivenTime", "RealTime", "WatchdogClock"]

#: Real seconds a watchdog thread on a driven clock waits before looking for an idle stack.
_DRIVEN_IDLE_POLL_S = 0.25


class WatchdogClock(Protocol):
    """The time a watchdog measures calls with."""

    def now(self) -> float:
        """Seconds on this clock (any origin)."""

    def wait(self, condition: threading.Condition, seconds: float) -> None:
        """Called by the watchdog thread holding ``condition``: wait about ``seconds`` of this
        clock's time, or less when ``condition`` is notified."""


class RealTime:
    """Monotonic wall time."""

    def now(self) -> float:
        return time.monotonic()

    def wait(self, condition: threading.Condition, seconds: float) -> None:
        condition.wait(seconds)


class DrivenTime:
    """Time that moves only when :meth:`advance` is called; advancing past the time a
    watchdog waits for wakes it, so a test drives a timeout without sleeping. A hanging test
    driver loops on ``advance`` with small steps: most calls are one addition."""

    def __init__(self) -> None:
        self._now = 0.0
        self._wake_at = math.inf
        self._waiting: list[threading.Condition] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
        if self._now >= self._wake_at:
            self._wake()

    def wait(self, condition: threading.Condition, seconds: float) -> None:
        with self._lock:
            self._waiting.append(condition)
            self._wake_at = min(self._wake_at, self._now + seconds)
        # Driven time alone would wake the thread only on advance; the real-time poll lets
        # it notice that no call is in progress any more and retire.
        condition.wait(_DRIVEN_IDLE_POLL_S)

    def _wake(self) -> None:
        with self._lock:
            waiting, self._waiting, self._wake_at = self._waiting, [], math.inf
        for condition in waiting:
            with condition:
                condition.notify_all()
