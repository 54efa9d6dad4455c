"""What a driver call may leave installed in the interpreter it shares with the host: the
thread's trace and profile functions, the handlers of the signals the host relies on, and the
interval timers whose signals end a process.

IOKit has no counterpart: a kext cannot hook the kernel's own execution. Here a driver is Python
code in the host's thread, and what it installs runs inside the host's code: a trace or profile
function (``sys.settrace``, ``sys.setprofile``) at each of the host's function calls (one that
raises breaks the host's code, one that sleeps hangs it); a ``SIGUSR2`` handler takes the
signal the watchdog interrupts a hung call with; a ``SIGALRM``, ``SIGVTALRM`` or ``SIGPROF``
handler that raises does so in whatever host code its timer finds running, and a timer left
pending with no handler ends the process ("Alarm clock"). ``SIGPIPE`` is ignored in the host,
as Python sets it: a driver that gives it back its default action (the command-line idiom
``signal.signal(signal.SIGPIPE, signal.SIG_DFL)``) made the next write to a peer gone away (a
client that left before its reply, a crashed driver process) end the running kernel silently,
with status 141.

The guard of :mod:`.driver_calls` reads these hooks (:data:`Hooks`) before each call and again
when it ends (C calls, a hundred-odd nanoseconds, no system call); when one changed, it puts the
trace and profile functions back before the host runs code of its own, and :func:`put_back` the
signal handlers, cancelling first a timer that would then end the process; a warning names the
driver (``driver-changed-host``). Reading a timer is a system call: timers are read when a
handler changed, and after each work-loop job (:func:`disarm_timers`, from :mod:`.job_checks`).
A timer armed with no handler at all, which ends the process before the job does, is the
driver killing its own process (docs/lifecycle.md).
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

__all__ = ["HOOKS_HINT", "SIGNALS", "Hooks", "disarm_timers", "handler_of", "pending_timers",
           "put_back"]


def _c_getsignal() -> Callable[[int], object]:
    """``signal.getsignal`` without its conversion to a ``Handlers`` member, which for a
    Python handler raises and catches a ValueError (about 2 us; a running kernel's loop
    and every driver call ask): the C function it wraps (20 ns)."""
    try:
        import _signal  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - a Python without CPython's module
        return signal.getsignal
    getter: Callable[[int], object] = _signal.getsignal
    return getter


#: A signal's handler as Python stored it (tens of nanoseconds).
handler_of = _handler_of = _c_getsignal()
_USR2, _ALRM, _VTALRM, _PROF = signal.SIGUSR2, signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF
_PIPE = signal.SIGPIPE
_IGN = signal.SIG_IGN
#: The signals whose handlers are put back, in :data:`Hooks` order after trace and profile.
SIGNALS: tuple[int, ...] = (_USR2, _ALRM, _VTALRM, _PROF, _PIPE)
#: Each interval timer and the signal it sends.
TIMERS = ((signal.ITIMER_REAL, "ITIMER_REAL", _ALRM),
          (signal.ITIMER_VIRTUAL, "ITIMER_VIRTUAL", _VTALRM),
          (signal.ITIMER_PROF, "ITIMER_PROF", _PROF))
#: The trace function, the profile function and the handlers of :data:`SIGNALS`.
Hooks = tuple[Any, Any, Any, Any, Any, Any, Any]
HOOKS_HINT = ("a kext shares the kernel's process and thread: it must not install trace or "
              "profile functions, signal handlers or interval timers; use a thread or timer "
              "of its own (threading.Timer), or make the driver a dext")


def put_back(hooks: Hooks) -> list[str]:
    """Restore the signal handlers of ``hooks`` (the guard puts the trace and profile
    functions back itself, before it calls anything); what was changed, one phrase each."""
    handlers = dict(zip(SIGNALS, hooks[2:], strict=True))
    replaced = [number for number, handler in handlers.items()
                if _handler_of(number) is not handler]
    if not replaced:
        return []
    # The timers first: a SIGALRM that finds the default handler back ends the process.
    return [*disarm_timers(handlers), _restore_handlers(replaced, handlers)]


def _restore_handlers(replaced: list[int], handlers: dict[int, Any]) -> str:
    """Put the handlers of ``replaced`` back (only the main thread may)."""
    names = ", ".join(signal.Signals(number).name for number in replaced)
    try:
        for number in replaced:
            previous = handlers[number]
            if previous is not None:  # None: a handler not set from Python, not restorable
                signal.signal(number, previous)
    except (ValueError, OSError):  # not the main thread
        return f"replaced the handler of {names} (not put back: not the main thread)"
    if _USR2 in replaced:
        names = names.replace("SIGUSR2", "SIGUSR2 (the watchdog's)")
    if _PIPE in replaced:
        names = names.replace("SIGPIPE", "SIGPIPE (ignored by the host: a peer gone away would "
                                         "have ended the process)")
    return f"replaced the handler of {names}"


def pending_timers() -> frozenset[int]:
    """The interval timers pending now (a system call each)."""
    return frozenset(which for which, _, _ in TIMERS if _pending(which))


def disarm_timers(handlers: dict[int, Any] | None = None,
                  keep: frozenset[int] = frozenset()) -> list[str]:
    """Cancel each pending interval timer whose signal ends the process: its handler (in
    ``handlers`` when given: the one about to be put back) is not a Python function. A timer
    a host or test harness runs with a handler of its own is left alone, and so are those in
    ``keep`` (pending before the driver's code ran)."""
    cancelled: list[str] = []
    for which, name, number in TIMERS:  # after every work-loop job: each name read once
        handler = handlers[number] if handlers is not None else _handler_of(number)
        if which in keep or callable(handler) or (type(handler) is int and handler == _IGN):
            continue
        if _pending(which):
            signal.setitimer(which, 0)
            cancelled.append(f"left {name} pending (its {signal.Signals(number).name} would "
                             "have ended the process)")
    return cancelled


def _pending(which: int) -> bool:
    try:
        return signal.getitimer(which) != (0.0, 0.0)
    except OSError:  # pragma: no cover - a timer this system lacks
        return False
