"""The ``iokit`` command's last resort: how a command ends when it does not return normally.

Apple's command-line tools end a run they cannot finish with one line on stderr and an exit
status, never a stack trace (a crash leaves a report in DiagnosticReports instead). Here every
command runs inside :func:`guard`, which turns each way out into such a line:

- an :class:`~iokit_host.errors.IOKitError`: the command's own diagnostic, exit 1;
- an ``OSError`` about a file (missing, unreadable, a folder, no space): the path and the
  reason, exit 1; writing the output failing for want of space or for a device error
  (``iokit boot > /dev/full``): that reason, exit 1;
- an ``ImportError`` of a distribution the host needs (a broken install): which one, and
  the ``pip`` command that mends it (:mod:`iokit_host.dependencies`), exit 1;
- Ctrl-C: ``iokit: interrupted``, exit 130 (128 + SIGINT, as a shell reports it);
- a closed stdout (``iokit ioreg | head``): quiet, exit 0; ``head`` got what it wanted;
- anything else, ``SystemExit`` and other ``BaseException`` kinds included (argparse's own
  exits are taken before the command runs, see :func:`exit_status`; a ``sys.exit`` deeper
  down, from a driver say, must not end the host unexplained), is a bug in iokit-host:
  ``iokit: internal error: <type>: <message>``, how to report it, exit 2; ``IOKIT_DEBUG=1``
  prints the traceback too.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import NoReturn

from iokit_host.dependencies import missing_distribution
from iokit_host.errors import Diagnostic, IOKitError, Severity, quoted
from iokit_host.settings import env_flag

__all__ = ["EXIT_FAILURE", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "end_despite_threads",
           "exit_status", "flush_output", "guard", "lingering_threads", "reopen_closed_streams",
           "silence_stdout", "stdout_closed"]

EXIT_OK = 0
EXIT_FAILURE = 1
#: argparse's usage status doubles as the internal-error status, as with Python itself.
EXIT_INTERNAL = 2
EXIT_INTERRUPTED = 130

BUG_HINT = ("this is a bug in iokit-host, not in your input: please report it to the "
            "iokit-host maintainers with the command you ran; run it again with IOKIT_DEBUG=1 "
            "to include the traceback")


def guard(prefix: str, command: Callable[[], int]) -> int:
    """Run ``command`` and return its exit status, whatever way it ends.

    :param prefix: what starts each error line, e.g. ``iokit machine``.
    """
    try:
        return int(command())
    except BrokenPipeError:
        silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        return _report("iokit: interrupted", EXIT_INTERRUPTED)
    except IOKitError as error:
        return _report(f"{prefix}: {error}", EXIT_FAILURE)
    except OSError as error:
        if error.filename is None and error.errno in _OUTPUT_ERRNOS:
            silence_stdout()  # the interpreter's last flush would fail the same way
            return _report(f"{prefix}: {_output_error(error)}", EXIT_FAILURE)
        if error.filename is None:
            return _internal_error(error)
        return _report(f"{prefix}: {_file_error(error)}", EXIT_FAILURE)
    except ImportError as error:  # a broken install, not a bug: name what to reinstall
        found = missing_distribution(error)
        if found is None:
            return _internal_error(error)
        return _report(f"{prefix}: {found}", EXIT_FAILURE)
    except BaseException as error:  # noqa: BLE001 - every other escape is a bug, SystemExit too
        return _internal_error(error)


def flush_output() -> None:
    """Write out what the command printed, inside its guard: stdout is block-buffered when it
    is not a terminal, and a full disk found at exit was a stray error and status 120
    (``iokit kextstat > /dev/full``). A stream a driver left unusable is passed over (said
    already); a full disk or a closed pipe raises, for :func:`guard` to report."""
    try:
        sys.stdout.flush()
    except (AttributeError, ValueError):  # None, or closed
        pass
    except OSError as error:
        if isinstance(error, BrokenPipeError) or error.errno in _OUTPUT_ERRNOS:
            raise


def _file_error(error: OSError) -> Diagnostic:
    reason = error.strerror or type(error).__name__
    paths = " -> ".join(str(p) for p in (error.filename, error.filename2) if p is not None)
    return Diagnostic("file-error", reason, file=paths,
                      hint="check that the path exists, is the kind of file the option "
                           "takes, and that you may read (or write) it")


#: Why writing a stream fails that is the system's doing, not a bug: a full disk or quota,
#: a file over its size limit, a device error (``iokit boot > /dev/full``).
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def _output_error(error: OSError) -> Diagnostic:
    reason = error.strerror or os.strerror(error.errno or 0)
    return Diagnostic("output-write-failed", f"cannot write the output: {reason}",
                      hint="make room on the disk the output goes to, or send it elsewhere")


def _internal_error(error: BaseException) -> int:
    if env_flag("IOKIT_DEBUG"):
        import traceback  # only for a bug, and only when asked

        traceback.print_exception(error, file=sys.stderr)
    message = str(error).strip().replace("\n", " ")[:500] or "(no message)"
    return _report(f"iokit: internal error: {type(error).__name__}: {message}\n"
                   f"  hint: {BUG_HINT}", EXIT_INTERNAL)


def exit_status(exit_: SystemExit) -> int:
    """What the interpreter would do with ``exit_`` (argparse's): print a message, map it to 1."""
    code = exit_.code
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code
    return _report(str(code), EXIT_FAILURE)


def _report(text: str, status: int) -> int:
    try:
        sys.stdout.flush()  # what the command printed so far comes first
    except (OSError, ValueError):
        silence_stdout()
    except AttributeError:  # not a stream at all (None: a driver's doing)
        sys.stdout = sys.__stdout__
    try:
        print(text, file=sys.stderr)
    except (OSError, ValueError, AttributeError):  # AttributeError: stderr is no stream
        try:
            print(text, file=sys.__stderr__)
        except (OSError, ValueError, AttributeError):
            pass  # nowhere left to say it; the status still says it
    return status


def reopen_closed_streams() -> bool:
    """Give each standard stream the command was started without (``iokit ioreg >&-``) the
    null device, so that no file or socket the command opens takes its number (nor a driver
    process's output with it) and writing to it is harmless; True when standard output was
    one, which the command's output then cannot reach (see :func:`stdout_closed`)."""
    closed = False
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        if getattr(sys, name) is not None:
            continue
        try:
            os.fstat(fd)
        except OSError:  # closed: the next open would take its number
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        setattr(sys, name, open(fd, mode, closefd=False, encoding="utf-8"))  # noqa: SIM115
        closed = closed or fd == 1
    return closed


def stdout_closed() -> int:
    """What a command started with standard output closed ends with, as ``ls >&-`` does: a
    line on stderr, exit 1, and nothing run (its output could go nowhere)."""
    return _report("iokit: " + str(Diagnostic(
        "output-write-failed", "cannot write the output: standard output is closed",
        hint="run the command with its output open (a file, a pipe or the terminal)")),
        EXIT_FAILURE)


def lingering_threads(threads: Iterable[threading.Thread] | None = None) -> list[str]:
    """The names of the threads still running that the interpreter would wait for at exit
    (not daemons): after a command returns, a driver's (the host's own are daemons or
    joined), which would keep ``iokit boot`` from ever ending.

    :param threads: the threads to look at (the pytest plugin's: those started while a test's
        host ran); every thread but the main one when None.

    Read through :class:`threading.Thread`'s own accessors: a driver's subclass may override
    ``name``, ``daemon`` or ``is_alive`` with code that raises or never returns, and this
    runs after every driver call has ended, unguarded. A thread that cannot be read is
    counted: waiting for it could be for ever."""
    main = threading.main_thread()
    names = (_lingering_name(thread) for thread in
             (threading.enumerate() if threads is None else threads) if thread is not main)
    return [name for name in names if name is not None]


def _lingering_name(thread: threading.Thread) -> str | None:
    """The name of ``thread`` if the interpreter would wait for it, else None."""
    try:
        if _THREAD_DAEMON(thread) or not threading.Thread.is_alive(thread):
            return None
        name = _THREAD_NAME(thread)
        return name if type(name) is str else "(unnamed)"
    except Exception:  # noqa: BLE001 - a driver's thread object: anything may be wrong in it
        return "(unreadable)"


_THREAD_NAME = threading.Thread.name.fget  # type: ignore[attr-defined]
_THREAD_DAEMON = threading.Thread.daemon.fget  # type: ignore[attr-defined]


def end_despite_threads(status: int, names: list[str]) -> NoReturn:
    """End the process with ``status`` now, not waiting for the threads ``names`` (a driver
    left them running): said on stderr, what was printed flushed, then ``os._exit``."""
    shown = ", ".join(quoted(name) for name in names[:5]) + (" ..." if len(names) > 5 else "")
    _report("iokit: " + str(Diagnostic(
        "driver-thread-left-running", f"{len(names)} thread(s) a driver started still run "
        f"at the end of the command ({shown}); it ends without waiting for them",
        severity=Severity.WARNING,
        hint="a driver's threads end in its stop (join them there), or are daemon threads")),
        status)
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(status)


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush of a closed pipe is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's capture): nothing will flush into a closed pipe
