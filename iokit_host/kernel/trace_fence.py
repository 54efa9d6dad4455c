"""Trace and profile functions a driver call installs: taken out again, the call's fault.

No IOKit counterpart: a kext cannot hook the kernel's own execution (DTrace probes are the
kernel's, not a kext's). Here a driver's code shares the host's interpreter, and
``sys.settrace``/``sys.setprofile`` (or ``threading.settrace``/``setprofile``, for the threads
started later) from a driver call would run the driver's function on every line or call of
the host's code from then on: one that loops hangs the kernel for every client, one that
raises ``SystemExit`` ends it. So each driver call notes the four functions before it runs,
and one it changed is put back when it returns, reported as ``driver-changed-host``. A
debugger or coverage tool the host runs under is left alone: it was there before the call.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from iokit_host.kernel.host_fence import DriverMisdeed

__all__ = ["Tracers"]

_gettrace = sys.gettrace
_getprofile = sys.getprofile


class Tracers:
    """The trace and profile functions in force when a driver call began."""

    __slots__ = ("profile", "thread_profile", "thread_trace", "trace")

    def __init__(self, trace: Any, profile: Any, thread_trace: Any,
                 thread_profile: Any) -> None:
        self.trace = trace
        self.profile = profile
        self.thread_trace = thread_trace
        self.thread_profile = thread_profile

    @classmethod
    def now(cls) -> Tracers:
        # threading keeps what settrace/setprofile give for new threads in these globals
        # (Python 3.10 to 3.13); read directly: this runs on every driver call.
        return cls(_gettrace(), _getprofile(), getattr(threading, "_trace_hook", None),
                   getattr(threading, "_profile_hook", None))

    def changed(self) -> bool:
        """Whether any of them is another function now (by identity: no driver ``__eq__``)."""
        return (_gettrace() is not self.trace or _getprofile() is not self.profile
                or getattr(threading, "_trace_hook", None) is not self.thread_trace
                or getattr(threading, "_profile_hook", None) is not self.thread_profile)

    def check(self) -> None:
        """Right after a driver call returns, still inside its guard: put back what it
        changed, raising the call's fault. The functions it installed run even here (a
        profile function on each builtin called), under the watchdog."""
        if self.changed():
            raise self.put_back() or DriverMisdeed("driver-changed-host", "changed tracers")

    def put_back(self) -> DriverMisdeed | None:
        """Put back each one the call changed; its fault, or None when it changed none. A
        tracer that raises while this runs is removed by the interpreter as it raises, so a
        caller's few tries always end with none left."""
        changed = []
        if _gettrace() is not self.trace:
            sys.settrace(self.trace)
            changed.append("sys.settrace")
        if _getprofile() is not self.profile:
            sys.setprofile(self.profile)
            changed.append("sys.setprofile")
        if getattr(threading, "_trace_hook", None) is not self.thread_trace:
            threading.settrace(self.thread_trace)
            changed.append("threading.settrace")
        if getattr(threading, "_profile_hook", None) is not self.thread_profile:
            threading.setprofile(self.thread_profile)
            changed.append("threading.setprofile")
        if not changed:
            return None
        return DriverMisdeed("driver-changed-host", f"installed a trace or profile function "
                             f"({', '.join(changed)}), which would run in the host's code on "
                             "every line or call (taken out)")
