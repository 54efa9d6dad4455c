"""The process-wide settings a kext shares with the host, looked at after each work-loop job.

IOKit has no counterpart: a kext's globals are its own, and the kernel's settings are not a
library call away. Here a kext is Python code in the host's process, and one call changes what
the host and every other driver run under: ``warnings.simplefilter("error")`` turns the host's
own warnings into exceptions, ``signal.signal(SIGCHLD, SIG_IGN)`` makes the system reap the
host's children itself (a driver process killed then reads as a clean exit), a replaced
``builtins.print`` or ``sys.excepthook`` is driver code the host runs, ``gc.disable()`` leaks
every cycle, ``sys.setswitchinterval(1000)`` starves the watchdog's thread, an environment's
``TZ`` or ``LANG`` changes the host's output, a lowered ``RLIMIT_NOFILE`` leaves the host no
descriptor for its next socket, a blocked ``SIGUSR2`` silences the watchdog.

:class:`ProcessState` takes these once per run of jobs (:class:`~.job_checks.JobChecks`) and
compares them after every :data:`~.job_checks.CHECK_EVERY`-th job and when the run ends: one
tuple of tens of C calls and three system calls (umask, the file limit, the signal mask),
about 4 us, a quarter of a microsecond a job (every job's, 12% of a boot's work loop), and
the builtins, compared name by name (6 us more) only when ``builtins`` changed at all
(:mod:`.dict_version`); nothing on a driver call's path (the recursion limit, trace functions and the
watchdog's signals are put back after each call, :mod:`.driver_calls`).
What changed is put back, and said. Settings that are a driver's own business (a module's
globals, environment variables outside :data:`ENVIRON_PREFIXES`, locale, ``gc.freeze``) are
left alone.
"""

from __future__ import annotations

import builtins
import faulthandler
import gc
import os
import resource
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from operator import is_not
from types import MethodType
from typing import Any

from iokit_host.kernel.dict_version import version_of
from iokit_host.kernel.fault_timer import take_refused
from iokit_host.kernel.interpreter_hooks import handler_of
from iokit_host.kernel.watchdog import Watchdog

__all__ = ["ENVIRON_PREFIXES", "PROCESS_HINT", "SETTINGS", "ProcessState", "Setting"]

PROCESS_HINT = ("a kext shares the kernel's process: signal handlers and masks, warning "
                "filters, interpreter settings and hooks, builtins, the environment, the umask "
                "and resource limits are the host's and every driver's; change them only "
                "around code of your own and put them back, or make the driver a dext")
#: The environment variables the host's output and its children depend on (time zone,
#: locale, Python's and the host's own settings); a driver's others are its own business.
ENVIRON_PREFIXES = (b"TZ", b"LANG", b"LC_", b"PYTHON", b"IOKIT_")


@dataclass(frozen=True, slots=True)
class Setting:
    """One process-wide setting: how it is read and put back, and what its change does."""

    what: str
    read: Callable[[], Any]
    write: Callable[[Any], None]
    same: Callable[[Any, Any], bool]
    #: Says how it changed, ``(before, now)``: `` from 4300 to 640``; None: the change
    #: alone is said (objects whose repr would be driver code).
    said: Callable[[Any, Any], str] | None = None


def _from_to(shown: Callable[[Any], str]) -> Callable[[Any, Any], str]:
    """Says a change as `` from <before> to <now>``, each value ``shown``."""
    return lambda before, now: f" from {shown(before)} to {shown(now)}"


def _equal(a: Any, b: Any) -> bool:
    return bool(a == b)  # numbers and tuples of numbers only: no driver code


def _identical(a: Any, b: Any) -> bool:
    return a is b


def _same_items(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Tuples whose items are the same objects (compared by identity: no driver ``__eq__``)."""
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


# -- signals ---------------------------------------------------------------------------------
def _sigchld() -> Any:
    return handler_of(signal.SIGCHLD)


def _set_sigchld(handler: Any) -> None:
    if handler is not None:  # None: set outside Python, not restorable
        signal.signal(signal.SIGCHLD, handler)


def _handler_name(handler: Any) -> str:
    if handler is signal.default_int_handler:
        return "Python's (KeyboardInterrupt)"
    if type(handler) is int:
        return "SIG_IGN" if handler == signal.SIG_IGN else "SIG_DFL"
    return "a handler" if handler is not None else "a handler set outside Python"


def _sigint() -> Any:
    """SIGINT's handler, the watchdog's stand-in for Python's own (it notes each real Ctrl-C
    in an armed period, :meth:`~.watchdog.Watchdog.user_interrupt`) read as Python's."""
    handler = handler_of(signal.SIGINT)
    if type(handler) is MethodType and handler.__func__ is _WATCHDOG_SIGINT:
        return signal.default_int_handler
    return handler


def _same_sigint(now: Any, before: Any) -> bool:
    """Only Python's own handler is kept here: a running kernel's stop handler (its own, for
    SIGTERM and SIGHUP too) is put back by the kernel, naming the handler that replaced it
    (:class:`~iokit_host.server.signals.StopSignals`)."""
    return now is before or before is not signal.default_int_handler


def _set_sigint(handler: Any) -> None:
    if handler is not None:
        signal.signal(signal.SIGINT, handler)


def _mask() -> frozenset[int]:
    return frozenset(signal.pthread_sigmask(signal.SIG_BLOCK, ()))


def _set_mask(mask: frozenset[int]) -> None:
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _mask_shown(mask: frozenset[int]) -> str:
    names = sorted(signal.Signals(n).name if n in signal.Signals._value2member_map_ else str(n)
                   for n in mask)
    return "{" + ", ".join(names) + "}"


# -- warnings ----------------------------------------------------------------------------------
def _filters() -> tuple[Any, tuple[Any, ...]]:
    return warnings.filters, tuple(warnings.filters)


def _same_filters(a: tuple[Any, tuple[Any, ...]], b: tuple[Any, tuple[Any, ...]]) -> bool:
    return a[0] is b[0] and _same_items(a[1], b[1])


def _set_filters(taken: tuple[Any, tuple[Any, ...]]) -> None:
    warnings.filters = taken[0]
    taken[0][:] = taken[1]
    mutated = getattr(warnings, "_filters_mutated", None)
    if callable(mutated):  # the C module caches what each module's warnings resolved to
        mutated()


def _warning_hooks() -> tuple[Any, ...]:
    return warnings.showwarning, warnings.formatwarning


def _set_warning_hooks(taken: tuple[Any, ...]) -> None:
    warnings.showwarning, warnings.formatwarning = taken


# -- the interpreter -----------------------------------------------------------------------
def _gc_enabled() -> bool:
    return gc.isenabled()


def _set_gc_enabled(enabled: bool) -> None:
    if enabled:
        gc.enable()
    else:
        gc.disable()


def _young_threshold() -> int:
    """The youngest generation's threshold (0 turns automatic collection off); the older ones
    are the host's to hold back during a boot (:mod:`.collector`)."""
    return gc.get_threshold()[0]


def _set_young_threshold(young: int) -> None:
    gc.set_threshold(young, *gc.get_threshold()[1:])


def _gc_callbacks() -> tuple[Any, ...]:
    return tuple(gc.callbacks)


def _set_gc_callbacks(taken: tuple[Any, ...]) -> None:
    gc.callbacks[:] = taken


def _hooks() -> tuple[Any, ...]:
    return (sys.excepthook, sys.unraisablehook, threading.excepthook, threading.gettrace(),
            threading.getprofile())


def _set_hooks(taken: tuple[Any, ...]) -> None:
    sys.excepthook, sys.unraisablehook, threading.excepthook = taken[:3]
    threading.settrace(taken[3])
    threading.setprofile(taken[4])


def _builtins() -> tuple[tuple[str, ...], tuple[Any, ...]]:
    names = builtins.__dict__
    return tuple(names), tuple(names.values())


def _same_builtins(now: tuple[tuple[str, ...], tuple[Any, ...]],
                   before: tuple[tuple[str, ...], tuple[Any, ...]]) -> bool:
    """Every builtin the host had is still the same object, compared by identity in C (a
    replaced one's ``__eq__`` would be driver code); names a driver added are left alone."""
    if len(now[0]) == len(before[0]) and not any(map(is_not, now[0], before[0])) \
            and not any(map(is_not, now[1], before[1])):
        return True
    current = dict(zip(*now, strict=True))
    return all(current.get(name, _MISSING) is value for name, value in zip(*before, strict=True))


_MISSING = object()


def _set_builtins(taken: tuple[tuple[str, ...], tuple[Any, ...]]) -> None:
    builtins.__dict__.update(zip(*taken, strict=True))


# -- the operating system ------------------------------------------------------------------
def _environ() -> dict[bytes, bytes]:
    data: dict[bytes, bytes] | None = getattr(os.environ, "_data", None)
    if data is None:  # pragma: no cover - os.environ without its bytes mapping
        return {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}
    return dict(data)


def _host_environ(environ: dict[bytes, bytes]) -> dict[bytes, bytes]:
    return {k: v for k, v in environ.items() if k.startswith(ENVIRON_PREFIXES)}


def _same_environ(now: dict[bytes, bytes], before: dict[bytes, bytes]) -> bool:
    """Bytes against bytes (os.environ encodes what it is given): no driver code."""
    return now == before or _host_environ(now) == _host_environ(before)


def _set_environ(taken: dict[bytes, bytes]) -> None:
    now, before = _host_environ(_environ()), _host_environ(taken)
    for key in now.keys() - before.keys():
        del os.environb[key]
    for key, value in before.items():
        if now.get(key) != value:
            os.environb[key] = value
    if now.get(b"TZ") != before.get(b"TZ"):
        time.tzset()  # the C library read the driver's TZ already


def _environ_said(before: dict[bytes, bytes], now: dict[bytes, bytes]) -> str:
    """The variables that changed: `` (TZ from unset to Asia/Tokyo)``."""
    old, new = _host_environ(before), _host_environ(now)
    keys = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    parts = [f"{os.fsdecode(k)} from {_value(old.get(k))} to {_value(new.get(k))}"
             for k in keys[:4]]
    return f" ({'; '.join(parts)}{'; ...' if len(keys) > 4 else ''})"


def _value(value: bytes | None) -> str:
    if value is None:
        return "unset"
    text = os.fsdecode(value)
    return repr(text[:60] + "..." if len(text) > 60 else text)


def _umask() -> int:
    mask = os.umask(0o077)  # reading it means setting it: a safe value for that moment
    os.umask(mask)
    return mask


def _set_umask(mask: int) -> None:
    os.umask(mask)


def _nofile() -> tuple[int, int]:
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def _set_nofile(limits: tuple[int, int]) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def _set_default_timeout(timeout: float | None) -> None:
    socket.setdefaulttimeout(timeout)


#: The settings looked at after each job.
SETTINGS: tuple[Setting, ...] = (
    Setting("SIGCHLD's handler (ignored, the system reaps the host's child processes itself "
            "and a driver process's death reads as a clean exit)", _sigchld, _set_sigchld,
            _identical, _from_to(_handler_name)),
    Setting("SIGINT's handler (ignored or taken, Ctrl-C no longer stops the command)",
            _sigint, _set_sigint, _same_sigint, _from_to(_handler_name)),
    Setting("the signal mask (a blocked SIGUSR2 silences the watchdog, a blocked SIGTERM "
            "the kernel's stop)", _mask, _set_mask, _equal, _from_to(_mask_shown)),
    Setting("the warning filters (warnings.simplefilter: 'error' turns the host's own "
            "warnings into exceptions)", _filters, _set_filters, _same_filters),
    Setting("warnings.showwarning or formatwarning", _warning_hooks, _set_warning_hooks,
            _same_items),
    Setting("the integer string conversion limit (sys.set_int_max_str_digits)",
            sys.get_int_max_str_digits, sys.set_int_max_str_digits, _equal,
            _from_to(str)),
    Setting("the thread switch interval (sys.setswitchinterval: a long one starves the "
            "watchdog's thread)", sys.getswitchinterval, sys.setswitchinterval, _equal,
            _from_to(lambda value: f"{value:g} s")),
    Setting("whether the garbage collector runs (gc.disable leaks every cycle)", _gc_enabled,
            _set_gc_enabled, _equal, _from_to(lambda enabled: "on" if enabled else "off")),
    Setting("the young collections' threshold (gc.set_threshold: 0 turns them off)",
            _young_threshold, _set_young_threshold, _equal, _from_to(str)),
    Setting("the garbage collector's callbacks (gc.callbacks: driver code run by every "
            "collection)", _gc_callbacks, _set_gc_callbacks, _same_items),
    Setting("sys.excepthook, sys.unraisablehook, threading.excepthook or the trace or "
            "profile function of new threads", _hooks, _set_hooks, _same_items),
    Setting("builtins (the host's print, open and the like)", _builtins, _set_builtins,
            _same_builtins),
    Setting("the environment's time zone, locale, Python or IOKIT_ variables",
            _environ, _set_environ, _same_environ, _environ_said),
    Setting("the umask (the files the host writes)", _umask, _set_umask, _equal, _from_to(oct)),
    Setting("the open-file limit (RLIMIT_NOFILE: the host's sockets and driver processes "
            "need descriptors)", _nofile, _set_nofile, _equal, _from_to(str)),
    Setting("the default socket timeout (socket.setdefaulttimeout: every socket the host "
            "opens)", socket.getdefaulttimeout, _set_default_timeout, _equal, _from_to(str)),
)


_WATCHDOG_SIGINT = Watchdog._on_sigint
#: The signals the host handles that ``faulthandler.register`` may take from it, below Python
#: (no handler read shows it): the watchdog's, the kernel's stop signals, SIGCHLD and SIGPIPE.
FAULT_SIGNALS = (signal.SIGUSR2, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD,
                 signal.SIGPIPE)


#: True when a handler was registered (typeshed says None).
_unregister: Callable[[int], bool] = faulthandler.unregister  # type: ignore[assignment]


def _faulthandlers_dropped() -> list[str]:
    """Unregister ``faulthandler`` from the host's signals (a C call each, no system call
    when none is registered): what was dropped, one phrase."""
    dropped = [signal.Signals(number).name for number in FAULT_SIGNALS
               if _unregister(number)]
    if not dropped:
        return []
    said = (f"registered faulthandler on {', '.join(dropped)} (it dumps tracebacks instead "
            "of running the host's handler: a hung call went on unabandoned)")
    return [said]


def _fingerprint() -> tuple[Any, ...]:
    """All of :data:`SETTINGS` but builtins in one tuple of numbers, objects' identities and
    bytes, compared with ``==`` (no driver ``__eq__`` can run): the common case, nothing
    changed, costs a few microseconds. Identities stay valid: the picture holds the objects."""
    filters, callbacks = warnings.filters, gc.callbacks
    return (
        id(handler_of(signal.SIGCHLD)), id(_sigint()),
        signal.pthread_sigmask(signal.SIG_BLOCK, ()),
        id(filters), tuple(map(id, filters)), id(warnings.showwarning),
        id(warnings.formatwarning), sys.get_int_max_str_digits(), sys.getswitchinterval(),
        gc.isenabled(), gc.get_threshold()[0], tuple(map(id, callbacks)), id(sys.excepthook),
        id(sys.unraisablehook), id(threading.excepthook), id(threading.gettrace()),
        id(threading.getprofile()), _environ(), _umask(), _nofile(), socket.getdefaulttimeout())


#: Builtins are compared one by one (157 identities, about 2 us). ``builtins.print = ...``
#: fails in the call itself (the module is sealed, :mod:`.host_fence`); only
#: ``vars(builtins)`` reaches here.
_BUILTINS_AT = next(index for index, setting in enumerate(SETTINGS)
                    if setting.read is _builtins)


class ProcessState:
    """:data:`SETTINGS` as they were when taken; :meth:`check` puts back what changed."""

    def __init__(self) -> None:
        #: The version of ``builtins`` when it was last found as taken (:mod:`.dict_version`;
        #: None where the interpreter's is not proved: compared every time).
        self._version = version_of(builtins.__dict__)
        self._seen = self._version.value if self._version is not None else None
        self._taken = [setting.read() for setting in SETTINGS]
        self._print = _fingerprint()

    def check(self) -> list[str]:
        """What changed since the settings were taken, one phrase each; each put back."""
        changed = _faulthandlers_dropped() + take_refused()
        if _fingerprint() == self._print and self._builtins_kept():
            return changed
        for index, setting in enumerate(SETTINGS):
            before, now = self._taken[index], setting.read()
            if setting.same(now, before):
                continue
            phrase = f"changed {setting.what}"
            if setting.said is not None:
                phrase += setting.said(before, now)
            try:
                setting.write(before)
            except (ValueError, OSError) as error:  # a raised hard limit; not the main thread
                phrase += f" (not put back: {error})"
                self._taken[index] = now  # said once: the new value stands from here
            changed.append(phrase)
        self._print = _fingerprint()
        if self._version is not None:
            self._seen = self._version.value  # what was changed is put back
        return changed

    def _builtins_kept(self) -> bool:
        """Every builtin the host had is still the same object: skipped while ``builtins``
        has its version of the last time it was (no insertion, replacement or deletion
        since)."""
        version = self._version
        seen = version.value if version is not None else None  # before: a thread may change it
        if seen is not None and seen == self._seen:
            return True
        setting = SETTINGS[_BUILTINS_AT]
        if not setting.same(setting.read(), self._taken[_BUILTINS_AT]):
            return False
        self._seen = seen
        return True
