"""The standard library's blocking waits that an exception may end cleanly, as Ctrl-C does.

No IOKit counterpart: a kext that sleeps forever in ``start`` on an ``IOLock`` that is never
released hangs its matching thread for good. Here the watchdog abandons a driver call that
overruns (:mod:`iokit_host.kernel.watchdog`), but it raises only in the driver's own code:
``threading`` is code an exception must not cut short mid-way (between acquiring a lock and
entering the ``with`` that releases it). A driver that waits on an ``Event`` nobody sets, a
``Condition`` nobody notifies, a ``Queue`` nobody fills or a thread that never ends is blocked
inside ``threading``, so it was never abandoned: the boot hung.

Yet those waits are where ``KeyboardInterrupt`` lands when a terminal's Ctrl-C interrupts a
blocked program, and ``threading`` is written for it: ``Condition.wait`` blocks inside a
``try`` whose ``finally`` takes the condition's lock back and withdraws its waiter, and
``Thread._wait_for_tstate_lock`` (``join``) releases what it acquired when interrupted
(bpo-45274); 3.13's ``join`` blocks in C, which stops cleanly. :func:`blocked_in_wait` tells
a frame stopped at one of those lines, found once from the interpreter's own source, so a
Python whose ``threading`` differs simply has fewer of them (and its waits stay as before).
"""

from __future__ import annotations

import linecache
import threading
from collections.abc import Callable, Iterator
from types import CodeType, FrameType
from typing import Any

__all__ = ["blocked_in_wait", "waiting_frames"]

#: Each wait, by the text of its blocking lines.
_WAITS: tuple[tuple[str, str], ...] = (
    ("Condition.wait", "waiter.acquire("),
    ("Thread._wait_for_tstate_lock", "lock.acquire("),
    ("Thread.join", "self._handle.join("),
)


def _function(qualname: str) -> Callable[..., Any] | None:
    owner, _, name = qualname.partition(".")
    found = getattr(getattr(threading, owner, None), name, None)
    return found if callable(found) else None


def _blocking_lines(code: CodeType, marker: str) -> Iterator[int]:
    lines = {line for _, _, line in code.co_lines() if line is not None}
    for line in sorted(lines):
        if marker in linecache.getline(code.co_filename, line):
            yield line


def _safe_points() -> frozenset[tuple[CodeType, int]]:
    points: set[tuple[CodeType, int]] = set()
    for qualname, marker in _WAITS:
        code = getattr(_function(qualname), "__code__", None)
        if isinstance(code, CodeType):
            points.update((code, line) for line in _blocking_lines(code, marker))
    return frozenset(points)


_SAFE_POINTS = _safe_points()


def blocked_in_wait(frame: FrameType) -> bool:
    """True when ``frame`` is stopped on a blocking line of one of ``threading``'s waits."""
    return (frame.f_code, frame.f_lineno) in _SAFE_POINTS


def waiting_frames(frame: FrameType | None, limit: int) -> FrameType | None:
    """The caller of the ``threading`` frames ``frame`` is blocked in (``Event.wait`` above
    ``Condition.wait``; ``Thread.start`` above ``Event.wait``), or None when ``frame`` is not
    blocked in a wait. ``queue.Queue.get`` and the like are their callers: driver code to the
    watchdog, as any module outside the host and ``threading``."""
    if frame is None or not blocked_in_wait(frame):
        return None
    caller = frame.f_back
    for _ in range(limit):
        if caller is None or caller.f_globals.get("__name__") != "threading":
            return caller
        caller = caller.f_back
    return None
