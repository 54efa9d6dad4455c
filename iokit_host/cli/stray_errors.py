"""Exceptions nobody can catch: raised in a thread, a finalizer or an exit handler.

:func:`~iokit_host.cli.last_resort.guard` sees what a command's own code raises. Python reports
the rest itself, with a traceback on stderr: an exception that ends a thread
(``threading.excepthook``), one raised by a ``__del__`` method, a garbage-collector callback or
an ``atexit`` handler (``sys.unraisablehook``). In the ``iokit`` command the code that raises
them is a driver's (a kext runs in the host's process, as in the kernel's address space): a
thread its ``start`` spawned, an object it dropped, an exit handler its thread registered
(one registered in a driver call runs as one: :mod:`iokit_host.kernel.exit_handlers`). The
command goes
on, as IOKit goes on past a kext thread's failure it cannot attribute; here each one is a
one-line warning, ``stray-exception``, naming where it was raised and what, never a
traceback (``IOKIT_DEBUG=1`` adds the traceback).
"""

from __future__ import annotations

import sys
import threading
from types import FunctionType, MethodType, TracebackType
from typing import Any

from iokit_host.errors import Diagnostic, Severity
from iokit_host.settings import env_flag

__all__ = ["report_stray_exceptions"]

_HINT = ("the command went on without it; a driver's thread, finalizer or exit handler most "
         "likely raised it: catch errors in the driver's own threads and callbacks")


def report_stray_exceptions() -> None:
    """Make this process report stray exceptions as warnings (for a process that is one
    ``iokit`` command: the hooks are the process's own)."""
    threading.excepthook = _thread_raised
    sys.unraisablehook = _unraisable


def _thread_raised(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:  # how a thread ends on purpose, as Python's own hook knows
        return
    where = f"thread {_text(getattr(args.thread, 'name', None)) or '(unnamed)'}"
    _warn(where, args.exc_value, args.exc_type, args.exc_traceback)


def _unraisable(args: Any) -> None:  # sys.UnraisableHookArgs: not a public type before 3.12
    from iokit_host.kernel.collection_watch import ctrl_c_redelivered
    from iokit_host.kernel.watchdog import DriverCallTimeout  # only when one happens

    if args.exc_type is DriverCallTimeout:
        # The watchdog's own interruption of a driver call hung in a finalizer (a dropped
        # result's __del__): the call is abandoned, and that fault names the driver.
        return
    if ctrl_c_redelivered(args):  # the user's Ctrl-C, not dropped: the command ends 130
        return
    # Python's own words, "Exception ignored in atexit callback", less what our line says
    kind = _text(args.err_msg).removeprefix("Exception ignored").strip(" :")
    where = f"{kind.removeprefix('in ')} {_name(args.object)}".strip() or "a finalizer"
    _warn(where, args.exc_value, args.exc_type, args.exc_traceback)


def _warn(where: str, error: BaseException | None, kind: type[BaseException] | None,
          trace: TracebackType | None) -> None:
    from iokit_host.kernel.driver_calls import describe_error  # only when one happens

    what = describe_error(error) if error is not None else getattr(kind, "__name__", "exception")
    diagnostic = Diagnostic("stray-exception", f"{where} raised {what}; ignored", hint=_HINT,
                            severity=Severity.WARNING)
    try:
        if env_flag("IOKIT_DEBUG") and error is not None:
            import traceback  # only when asked

            traceback.print_exception(kind or type(error), error, trace, file=sys.__stderr__)
        print(diagnostic, file=sys.__stderr__ or sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):
        pass  # no stderr left to say it on (a driver closed it)


def _name(thing: object) -> str:
    """What raised: a function's qualified name, else its type's; never its ``repr`` (driver
    code that may raise or hang in turn)."""
    if isinstance(thing, (FunctionType, MethodType)):
        return _text(thing.__qualname__)
    return f"a {_text(type(thing).__qualname__)} object" if thing is not None else ""


def _text(value: object) -> str:
    return value[:200] if isinstance(value, str) else ""
