"""Stopping the running kernel: SIGTERM and SIGINT, seen by the front end's loop.

A signal handler may only set a flag; the loop must also wake from ``select``. Python writes
each signal's number to a wake-up socket (``signal.set_wakeup_fd``) that the loop watches, and
the handler sets :attr:`StopSignals.requested`, which the loop reads before each round. They are
installed before the boot, so a SIGTERM during boot, or right after the ready line, still ends
the kernel in order with status 0.
"""

from __future__ import annotations

import signal
import socket
from types import FrameType

__all__ = ["StopSignals"]


class StopSignals:
    def __init__(self) -> None:
        self.requested = False
        self.wake, self._writer = socket.socketpair()
        self.wake.setblocking(False)
        self._writer.setblocking(False)

    def install(self) -> None:
        """Route SIGTERM and SIGINT here (main thread only, as Python requires)."""
        signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def request(self) -> None:
        """Ask the loop to stop, as a signal would (tests, embedding)."""
        self.requested = True
        try:
            self._writer.send(b"\0")
        except OSError:
            pass

    def drain(self) -> None:
        try:
            while self.wake.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def close(self) -> None:
        self.wake.close()
        self._writer.close()
