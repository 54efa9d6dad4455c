"""Stopping the running kernel: SIGTERM, SIGINT and SIGHUP, seen by the front end's loop.

A signal handler may only set a flag; the loop must also wake from ``select``. Python writes
each signal's number to a wake-up socket (``signal.set_wakeup_fd``) that the loop watches, and
the handler sets :attr:`StopSignals.requested`, which the loop reads before each round. They are
installed before the boot, so a SIGTERM during boot, or right after the ready line, still ends
the kernel in order with status 0. SIGHUP (the terminal that started the kernel went away)
ends it in the same order: its default action would kill the kernel without telling a client,
leaving its socket file and shared memory behind. Driver code runs in this process and may install handlers
of its own (or ignore SIGTERM): :meth:`StopSignals.reclaim`, called before the loop waits,
puts the kernel's back and says whose code had replaced them, so the kernel stays stoppable.
The same socket wakes the loop for notifications a driver's own thread sent
(:meth:`StopSignals.wake_loop`); its bytes are never read as a stop, only the flag is.
"""

from __future__ import annotations

import signal
import socket
import threading
from types import FrameType

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.interpreter_hooks import handler_of as _handler_of

__all__ = ["STOP_SIGNALS", "StopSignals"]


#: The signals that stop the kernel in order.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StopSignals:
    def __init__(self) -> None:
        self.requested = False
        self._handler = self._on_signal  # one bound method: installed, and compared with ``is``
        self.wake, self._writer = socket.socketpair()
        self.wake.setblocking(False)
        self._writer.setblocking(False)

    def install(self) -> None:
        """Route :data:`STOP_SIGNALS` here (main thread only, as Python requires)."""
        signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for number in STOP_SIGNALS:
            signal.signal(number, self._handler)

    def reclaim(self) -> list[Diagnostic]:
        """Put back the kernel's stop handlers where driver code replaced them (three
        look-ups when none did); a warning for each one put back."""
        handler = self._handler
        if _handler_of(signal.SIGTERM) is handler and _handler_of(signal.SIGINT) is handler \
                and _handler_of(signal.SIGHUP) is handler:
            return []
        taken: list[Diagnostic] = []
        for number in STOP_SIGNALS:
            current = signal.getsignal(number)
            if current == self._handler:
                continue
            signal.signal(number, self._handler)
            name = signal.Signals(number).name
            taken.append(Diagnostic(
                "kernel-signal-handler-replaced",
                f"{name}'s handler had been replaced by {_whose(current)}; the kernel's is "
                "back", key=name, subject=_module_of(current), severity=Severity.WARNING,
                hint=f"a driver must not install signal handlers: {name} stops the kernel"))
        if taken:
            signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        return taken

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def request(self) -> None:
        """Ask the loop to stop, as a signal would (tests, embedding)."""
        self.requested = True
        try:
            self._writer.send(b"\0")
        except OSError:
            pass

    def wake_loop(self) -> None:
        """Wake the loop for work posted from another thread (:mod:`.loop_mail`), without
        asking it to stop: only :attr:`requested` stops it, whatever the socket holds. Never
        blocks: a full socket wakes the loop already, and a closed one has no loop left."""
        try:
            self._writer.send(b"\1")
        except OSError:
            pass

    def drain(self) -> None:
        try:
            while self.wake.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def close(self) -> None:
        """Close the wake-up socket, first no longer the signals' wake-up descriptor: a
        signal after it (the watchdog's, interrupting a driver's exit-time call) wrote to a
        closed descriptor ("Exception ignored when trying to write to the signal wakeup fd"),
        or to whatever file reused its number."""
        if threading.current_thread() is threading.main_thread():
            previous = signal.set_wakeup_fd(-1)
            if previous not in (-1, self._writer.fileno()):  # not ours: left as it was
                signal.set_wakeup_fd(previous, warn_on_full_buffer=False)
        self.wake.close()
        self._writer.close()


def _whose(handler: object) -> str:
    """The replacing handler as a diagnostic names it: its function and module (the driver's
    package), or SIG_IGN/SIG_DFL."""
    if isinstance(handler, signal.Handlers):
        return handler.name
    if handler is None:
        return "a handler installed outside Python"
    name = getattr(handler, "__qualname__", None)
    module = _module_of(handler)
    return f"{module}.{name}" if isinstance(name, str) and module else type(handler).__name__


def _module_of(handler: object) -> str | None:
    module = getattr(handler, "__module__", None)
    return module if type(module) is str else None
