"""Exit handlers a driver registers: held by the host, run at exit as guarded driver calls.

A kext has no process to outlive: its cleanup is ``stop`` and ``free`` (and its module's
``kmod_stop``), never a hook on the kernel's own end. Here a kext's code runs in the host's
process, and ``atexit.register`` from a driver call (its ``start``, or a library its import
brings in, as ``logging`` registers its ``shutdown``) would have Python run the handler when
the command ends, unguarded: a handler that sleeps would hold the command for ever, one that
calls ``os._exit(7)`` would replace the command's exit status, one that prints would add to
its output after the summary.

So while a driver call runs, or from a thread other than the main one (a driver's own, which
may register between driver calls), ``atexit.register`` keeps the handler here instead; when the
process exits, each runs (last registered first, as ``atexit`` runs them) through the
:class:`~iokit_host.kernel.driver_calls.DriverCalls` guard it was registered under: bounded by
the watchdog, ``os._exit`` refused, whatever it raises caught. A failing handler is one
warning line on stderr (``driver-exit-handler-failed``), and the exit goes on. The host's
own handlers, registered outside driver calls, go to ``atexit`` as always.
"""

from __future__ import annotations

import atexit
import sys
import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import BuiltinFunctionType, FrameType, MethodType
from typing import Any, Protocol

__all__ = ["hold_driver_exit_handlers", "run_held"]


class _Watchdog(Protocol):
    def armed(self) -> AbstractContextManager[None]: ...


class _Calls(Protocol):
    """What this module uses of a :class:`~iokit_host.kernel.driver_calls.DriverCalls`."""

    @property
    def watchdog(self) -> _Watchdog: ...

    def active(self) -> bool: ...

    def call(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...

    def call_discarding(self, function: Callable[..., Any], /, *args: Any,
                        **kwargs: Any) -> Any: ...


#: A held handler: the function, its arguments, the guard whose driver call registered it,
#: and the driver code that registered it (``hk_kext.Hk.start``), which its warning names.
_Held = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], _Calls, str]
_HELD: list[_Held] = []
#: Every guard whose driver calls hold exit handlers (weakly: a kernel that is gone has none
#: running, and its held handlers keep their own guard).
_GUARDS: weakref.WeakSet[Any] = weakref.WeakSet()
_installed: list[bool] = []
_lock = threading.Lock()
_real_register = atexit.register
#: Modules whose frames are the host's, not the driver that registered a handler.
_HOST = "iokit_host."
_HOST_FENCE = "iokit_host.kernel.host_fence"
#: Frames looked through for the registering driver's (a library's registration is deep).
_MAX_FRAMES = 64
_real_unregister = atexit.unregister


def hold_driver_exit_handlers(calls: _Calls) -> None:
    """Hold the exit handlers registered during ``calls``'s driver calls (the first call
    installs the hold, and registers :func:`run_held` with ``atexit`` itself)."""
    with _lock:
        if not _installed:
            atexit.register = _register
            atexit.unregister = _unregister
            _real_register(run_held)
            _installed.append(True)
        _GUARDS.add(calls)


def _register(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Callable[..., Any]:
    """``atexit.register``: held when a driver call is running, on any guard, or when a
    thread other than the main one registers while a guard exists (a driver's own thread,
    between driver calls); else Python's."""
    guards = list(_GUARDS)
    running = next((calls for calls in guards if calls.active()), None)
    if running is None and guards and threading.current_thread() is not threading.main_thread():
        # The host registers nothing from its own threads; a driver's thread may, at any
        # time (even once the exit began, as a thread joining the main one does).
        running = guards[-1]
    if running is None or not callable(func):  # not callable: Python's own TypeError
        return _real_register(func, *args, **kwargs)
    _HELD.append((func, args, kwargs, running, _registrant(sys._getframe(1))))
    return func


def _registrant(frame: FrameType | None) -> str:
    """The code that called ``atexit.register``: the nearest frame outside the host (a
    driver's ``start``, or a library it called), as ``module.qualified.name``."""
    for _ in range(_MAX_FRAMES):
        if frame is None:
            break
        module = frame.f_globals.get("__name__")
        if not (isinstance(module, str) and (module == "atexit" or module.startswith(_HOST))):
            name = f"{module}.{frame.f_code.co_qualname}" if isinstance(module, str) \
                else frame.f_code.co_qualname
            return name[:160]
        frame = frame.f_back
    return "a driver's code"


def _handler_name(func: Callable[..., Any]) -> str:
    """A held handler's name for its warning: ``os._exit`` for the host's guard of it (which
    ``os._exit`` is while drivers run), a builtin's with its module (``time.sleep``)."""
    if getattr(func, "__module__", None) == _HOST_FENCE and \
            getattr(func, "__name__", None) == "_guarded_exit":
        return "os._exit"
    name = getattr(func, "__qualname__", None)
    if not isinstance(name, str):
        return "of a driver"
    module = getattr(func, "__module__", None)
    if isinstance(func, BuiltinFunctionType) and isinstance(module, str):
        name = f"{module}.{name}"
    return name[:120]


def _unregister(func: Callable[..., Any]) -> None:
    """``atexit.unregister``: a held handler too (the same function, or the same method of
    the same object, as ``atexit`` compares them; a driver's own ``__eq__`` is not run)."""
    _HELD[:] = [held for held in _HELD if not _same(held[0], func)]
    _real_unregister(func)


def _same(held: object, func: object) -> bool:
    if held is func:
        return True
    # A bound method is made anew on each attribute access; methods compare their object
    # by identity (Python 3.8 on), so == runs no driver code here.
    return type(held) is MethodType and type(func) is MethodType and held == func


def run_held() -> None:
    """Run the held handlers, the last registered first, each as a guarded driver call; a
    failure is reported on stderr and the next one runs."""
    # Those held now: one registered while they run is not run, as atexit runs only the
    # handlers it held when the exit began (a handler that registers itself again ends).
    held, _HELD[:] = list(_HELD), []
    for func, args, kwargs, calls, registrant in reversed(held):
        with calls.watchdog.armed():  # a signal interrupts a handler blocked in a sleep
            fault = calls.call_discarding(func, *args, **kwargs)
        if fault is not None:
            _report(func, registrant, fault)


def _report(func: Callable[..., Any], registrant: str, fault: Any) -> None:
    from iokit_host.errors import Diagnostic, Severity

    what = f"exit handler {_handler_name(func)} (registered by {registrant})"
    diagnostic = Diagnostic(
        fault.reference("driver-exit-handler-failed"), fault.reason(what),
        subject=registrant.partition(".")[0], severity=Severity.WARNING,
        hint="a driver's exit handler runs as a driver call when the command ends; clean up "
             "in stop or free instead")
    try:
        print(diagnostic, file=sys.__stderr__ or sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):
        pass  # no stderr left to say it on
