"""Finalizers the cyclic garbage collector runs outside any driver call, watched as one.

IOKit has no tracing collector: a kext object's ``free`` runs on the thread that releases its
last reference, in the kext's own call. Here CPython's collector runs a driver object's
``__del__`` (or a weak reference's callback) wherever an allocation sets a collection off:
often in the host's own code between driver calls, where no watchdog looked, so a finalizer
that never returned hung the boot for good.

While the work loop runs (:func:`collections_watched`, inside :meth:`Watchdog.armed`), and
while a running kernel serves its clients (:meth:`~.workloop.IOKernel.checking`), a
collection that begins on that thread with no driver call in progress is watched as a
driver call of its own: a ``gc.callbacks`` entry pushes a token on the watchdog's stack when
the collection starts and pops it when it stops, as :class:`~.driver_calls.DriverCalls` does
inline. A finalizer still running at the limit is abandoned in its own code
(:class:`~.watchdog.DriverCallTimeout`); Python cannot raise from a finalizer and reports it
as unraisable instead, so the collection swaps in a hook that notes it (rather than printing a
traceback) and the collection goes on with the rest. A warning names the finalizer.

Cost: a collection outside the work loop, or inside a driver call (the call's own limit covers
it), pays one Python call at each end (about 0.2 us); a watched one about 1.5 us, next to the
tens of microseconds of the youngest collection itself. Nothing is added to a driver call.
"""

from __future__ import annotations

import _thread
import gc
import itertools
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FunctionType, MethodType
from typing import Any

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.watchdog import DriverCallTimeout, Watchdog

__all__ = ["collections_watched", "ctrl_c_redelivered"]

Report = Callable[[Diagnostic], None]


class _Watch:
    """The watched work loop (one at a time: the loop's thread), and the collection in
    progress."""

    __slots__ = ("abandoned", "hook_before", "report", "thread", "token", "watchdog")

    def __init__(self) -> None:
        self.watchdog: Watchdog | None = None
        self.report: Report | None = None
        self.thread = 0
        self.token = 0  # of the collection being watched; 0: none
        self.hook_before: Any = None
        self.abandoned: list[str] = []  # the finalizers interrupted in this collection


_WATCH = _Watch()
#: A collection's tokens: negative, never a driver call's (the watchdog's count up from 1),
#: so a job during which the collector ran still reads as one that made no driver call
#: (:class:`~.job_checks.JobChecks` blames the jobs that did).
_TOKENS = itertools.count(-1, -1)


@contextmanager
def collections_watched(watchdog: Watchdog, report: Report) -> Iterator[None]:
    """Watch the collections of this thread that begin outside driver calls (nested blocks
    keep the outermost's watchdog)."""
    watch = _WATCH
    if watch.watchdog is not None or watchdog.limit_s is None:
        yield
        return
    watch.watchdog, watch.report, watch.thread = watchdog, report, threading.get_ident()
    try:
        yield
    finally:
        watch.watchdog = watch.report = None


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    """The ``gc.callbacks`` entry: begins and ends a collection's watch."""
    try:
        watch = _WATCH
        watchdog = watch.watchdog
        if watchdog is None:
            return
        if phase == "start":
            if not watchdog.stack and threading.get_ident() == watch.thread:
                _begin(watch, watchdog)
        elif watch.token:
            _end(watch, watchdog)
    except KeyboardInterrupt:
        # The user's Ctrl-C, landed in this callback: Python would report it as unraisable
        # and drop it (a boot went on, exit status 0).
        _redeliver_ctrl_c()
        watchdog = _WATCH.watchdog
        if watchdog is not None and not _WATCH.token:  # a watch half begun: no token of
            watchdog.stack[:] = [t for t in watchdog.stack if t > 0]  # ours left behind


def _begin(watch: _Watch, watchdog: Watchdog) -> None:
    watchdog.owner = watch.thread
    token = next(_TOKENS)
    watchdog.stack.append(token)
    if not watchdog.ready:
        watchdog.prepare()
    watch.token = token
    watch.hook_before = sys.unraisablehook
    sys.unraisablehook = _unraisable


def _end(watch: _Watch, watchdog: Watchdog) -> None:
    token, watch.token = watch.token, 0
    sys.unraisablehook = watch.hook_before
    watch.hook_before = None
    stack = watchdog.stack
    if stack and stack[-1] == token:
        stack.pop()
    if watchdog.fired is not None:
        watchdog.settle(token)
    abandoned, watch.abandoned = watch.abandoned, []
    if abandoned and watch.report is not None:
        shown = ", ".join(abandoned[:4]) + (f" and {len(abandoned) - 4} more"
                                             if len(abandoned) > 4 else "")
        watch.report(Diagnostic(
            "driver-call-timeout",
            f"a finalizer the garbage collector ran outside any driver call ({shown}) did not "
            f"return within {watchdog.limit_s or 0:g} s and was abandoned; the collection "
            "went on", subject=_class_of(abandoned[0]),
            hint="a driver object's __del__ (or a weak reference's callback) runs wherever "
                 "the collector finds it: it must return at once; release resources in stop "
                 "or free instead", severity=Severity.WARNING))


def _unraisable(unraisable: Any) -> None:
    """The hook of a watched collection: an abandoned finalizer is noted, the user's Ctrl-C
    raised again in the main thread, anything else goes to the hook there was."""
    if isinstance(unraisable.exc_value, DriverCallTimeout):
        _WATCH.abandoned.append(_named(unraisable.object))
        return
    if ctrl_c_redelivered(unraisable):
        return
    before = _WATCH.hook_before
    (before if before is not None else sys.__unraisablehook__)(unraisable)


def ctrl_c_redelivered(unraisable: Any) -> bool:
    """Raise the user's Ctrl-C again in the main thread, at its next safe point, when it is
    what ``unraisable`` (``sys.unraisablehook``'s argument) reports: a ``KeyboardInterrupt``
    that landed in this module's collection callback (only a signal raises one there), or in
    a finalizer while the watchdog saw a real SIGINT. Python drops those (a boot went on to
    exit 0); a driver's own ``raise KeyboardInterrupt`` in ``__del__`` stays dropped."""
    if not isinstance(unraisable.exc_value, KeyboardInterrupt):
        return False
    watchdog = _WATCH.watchdog
    if unraisable.object is not _on_collection and (
            watchdog is None or not watchdog.user_interrupt()):
        return False
    _redeliver_ctrl_c()
    return True


def _redeliver_ctrl_c() -> None:
    """SIGINT again for the main thread, sent from another thread: raised from here, the
    next safe point would still be in the callback (or the hook) that cannot raise. The other
    thread needs the interpreter's lock, which this one keeps until it has left (should it
    land in another callback, it is handed on again); a real signal, not ``interrupt_main``'s
    flag, so a main thread blocked in a system call wakes to it."""
    main = threading.main_thread().ident
    if main is not None:
        _thread.start_new_thread(signal.pthread_kill, (main, signal.SIGINT))


def _named(finalizer: object) -> str:
    """``module.Class.__del__`` of a finalizer, read without running driver code."""
    function = finalizer.__func__ if type(finalizer) is MethodType else finalizer
    if type(function) is FunctionType:
        module = function.__module__
        return f"{module}.{function.__qualname__}" if type(module) is str \
            else function.__qualname__
    return "a finalizer"


def _class_of(name: str) -> str | None:
    """``Class`` of ``module.Class.__del__``."""
    parts = name.rsplit(".", 2)
    return parts[1] if len(parts) == 3 else None


gc.callbacks.append(_on_collection)  # once, at import: before any job check's picture
