"""The daily crash limit: ``OSDextStatistics::recordCrash`` and ``kMaxDextCrashesInOneDay``.

xnu counts a dext's unexpected exits and, past three in a day, stops treating it as healthy
(it panics the machine for Apple's own dexts). Here more than :data:`MAX_CRASHES_PER_DAY`
crashes of one server within :data:`WINDOW_NS` of **host-clock** time stop relaunching it
until the oldest crash leaves the window; tests drive that clock instead of waiting a day.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["MAX_CRASHES_PER_DAY", "WINDOW_NS", "CrashLedger", "CrashRecord"]

MAX_CRASHES_PER_DAY = 3
WINDOW_NS = 24 * 3600 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class CrashRecord:
    """One crash: when (host-clock ns) and why."""

    at_ns: int
    reason: str


class CrashLedger:
    """Crashes by server name, pruned to the window as they are read."""

    def __init__(self) -> None:
        self._crashes: dict[str, deque[CrashRecord]] = {}
        self.total: dict[str, int] = {}

    def record(self, name: str, at_ns: int, reason: str) -> None:
        self._crashes.setdefault(name, deque()).append(CrashRecord(at_ns, reason))
        self.total[name] = self.total.get(name, 0) + 1

    def in_window(self, name: str, now_ns: int) -> tuple[CrashRecord, ...]:
        crashes = self._crashes.get(name)
        if not crashes:
            return ()
        while crashes and crashes[0].at_ns <= now_ns - WINDOW_NS:
            crashes.popleft()
        return tuple(crashes)

    def limited(self, name: str, now_ns: int) -> bool:
        """More than the daily maximum within the window: do not relaunch."""
        return len(self.in_window(name, now_ns)) > MAX_CRASHES_PER_DAY

    def window_ends_ns(self, name: str, now_ns: int) -> int | None:
        """When relaunching may resume: the oldest crash in the window leaves it."""
        crashes = self.in_window(name, now_ns)
        if len(crashes) <= MAX_CRASHES_PER_DAY:
            return None
        return crashes[len(crashes) - MAX_CRASHES_PER_DAY - 1].at_ns + WINDOW_NS
