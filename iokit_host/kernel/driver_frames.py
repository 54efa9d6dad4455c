"""Which frames are a driver call's own: where the watchdog may raise, and where it waits.

No IOKit counterpart: a kext's thread stuck in its own code is the kernel's to panic over.
Here the watchdog (:mod:`.watchdog`) abandons a driver call by raising in it, and only in code
an exception may cut short: the driver's own, not the host's (its registry, busy counts and
termination phases must stay consistent) nor the standard library's locking and importing
(an exception between acquiring a lock and entering its ``with`` would leak it). Host code
that only waits for the driver's answer names those functions in its module's
``DRIVER_WAITS`` (a dext call blocked on its process's reply), and ``threading``'s own waits
count as the driver's when its code made them (:mod:`.stdlib_waits`).
"""

from __future__ import annotations

from types import FrameType
from typing import Any

from iokit_host.kernel.stdlib_waits import waiting_frames

__all__ = ["driver_frame", "interruptible", "trace_no_calls", "waits_for_driver"]

#: Code an exception must never cut short: the host's own (its registry, busy counts and
#: termination phases stay consistent), and the standard library's locking and importing,
#: which an exception between acquiring a lock and entering its ``with`` block would leak.
_UNINTERRUPTIBLE = ("iokit_host.", "threading", "importlib.", "_weakrefset")
#: The module whose frame guards each driver call: a search for the abandoned call's own code
#: stops there (beyond it is the kernel, or whoever called the kernel).
_GUARD_MODULE = "iokit_host.kernel.driver_calls"
#: How many frames that search looks at, at most.
_MAX_FRAMES = 1000


def interruptible(frame: FrameType | None) -> bool:
    """True when the innermost ``frame`` runs driver code (the frames beneath it are waiting
    on a call into the driver, and take an exception from it like any other)."""
    if frame is None:
        return False
    globals_ = frame.f_globals
    name = str(globals_.get("__name__", ""))
    if not name.startswith(_UNINTERRUPTIBLE):
        return True
    # Host code that only waits for the driver's answer (see the module docstring).
    waits = globals_.get("DRIVER_WAITS")
    return isinstance(waits, frozenset) and frame.f_code.co_name in waits


def waits_for_driver(frame: FrameType | None) -> bool:
    """True when ``frame`` is one of ``threading``'s waits, blocked where an exception ends it
    cleanly, and the driver's own code waits in it (an ``Event`` nobody sets): not host code
    the driver called (:mod:`~iokit_host.kernel.stdlib_waits`)."""
    caller = waiting_frames(frame, _MAX_FRAMES)
    return caller is not None and interruptible(caller)


def driver_frame(frame: FrameType | None) -> FrameType | None:
    """The abandoned call's own frame nearest ``frame`` (host code it called), or None when
    the search reaches the guard of the call first."""
    for _ in range(_MAX_FRAMES):
        if frame is None or frame.f_globals.get("__name__") == _GUARD_MODULE:
            return None
        if interruptible(frame):
            return frame
        frame = frame.f_back
    return None


def trace_no_calls(frame: FrameType, event: str, arg: Any) -> None:
    """A thread's trace that traces no frame of its own (the watchdog's ``_raise_on_return``:
    a frame's own trace runs only while its thread's is on)."""
