"""``faulthandler.dump_traceback_later`` from driver code: refused, and said after the job.

IOKit has no counterpart: a kext cannot arm a timer that panics the kernel unasked. Here
``faulthandler.dump_traceback_later(2, exit=True)`` from a driver (a debugging aid left in
``start``) arms a C thread of the interpreter's that, two seconds on, prints every thread's
traceback on stderr and ends the process: a running kernel died with status 1, its socket
file and clients left behind. No Python call reads whether that timer is armed, so it cannot
be checked afterwards as the process-wide settings are (:mod:`.process_state`).

So, as ``atexit.register`` is held (:mod:`.exit_handlers`), ``dump_traceback_later`` is
wrapped once a :class:`~iokit_host.kernel.driver_calls.DriverCalls` exists: called while a
driver call runs, or from a thread other than the main one, it arms nothing (a timer a test
harness armed stays as it was) and is noted; :func:`take_refused` hands the notes to the job
checks, which name the nub in a ``driver-changed-host`` warning. The host and a harness arm
it as before.
"""

from __future__ import annotations

import faulthandler
import threading
import weakref
from typing import Any, Protocol

__all__ = ["hold_fault_timers", "take_refused"]


class _Calls(Protocol):
    def active(self) -> bool: ...


_real_dump_later = faulthandler.dump_traceback_later
_GUARDS: weakref.WeakSet[Any] = weakref.WeakSet()
_REFUSED: list[str] = []
_lock = threading.Lock()


def hold_fault_timers(calls: _Calls) -> None:
    """Refuse the timers armed during ``calls``'s driver calls (installed once)."""
    with _lock:
        if faulthandler.dump_traceback_later is not _dump_later:
            faulthandler.dump_traceback_later = _dump_later
        _GUARDS.add(calls)


def _dump_later(timeout: float, repeat: bool = False, file: Any = None,
                exit: bool = False) -> None:
    """``faulthandler.dump_traceback_later``: refused from driver code (see the module)."""
    guards = list(_GUARDS)
    driver = any(calls.active() for calls in guards) or (
        bool(guards) and threading.current_thread() is not threading.main_thread())
    if not driver:
        if file is None:
            _real_dump_later(timeout, repeat=repeat, exit=exit)
        else:
            _real_dump_later(timeout, repeat=repeat, file=file, exit=exit)
        return
    shown = f"{timeout:g} s" if isinstance(timeout, (int, float)) else "a timeout"
    ended = " and ended the process" if exit else ""
    _REFUSED.append(f"called faulthandler.dump_traceback_later({shown}"
                    f"{', exit=True' if exit is True else ''}), which would have printed "
                    f"every thread's traceback on stderr{ended} (not armed)")


def take_refused() -> list[str]:
    """The timers refused since the last call, one phrase each."""
    if not _REFUSED:
        return []
    with _lock:
        taken = _REFUSED[:]
        del _REFUSED[:len(taken)]
    return taken
