"""Keeping the kernel's socket file published while the kernel runs (IOKit's main port cannot
vanish from under a running kernel: every task gets it from the kernel itself).

A Unix-domain socket is reached by its path, and a path can be removed while the kernel
listens: a temp-directory cleaner (``systemd-tmpfiles``, ``tmpreaper``) sweeping
``/tmp`` or ``$XDG_RUNTIME_DIR``, or a user's ``rm``. The socket still listens, but no client
can find it: every tool says no kernel is running while one is. The front end asks
:meth:`SocketWatch.check` every :data:`CHECK_S` seconds (one ``lstat``; sooner is
``IOKIT_KERNEL_SOCKET_CHECK=<seconds>``); when the path is gone (or holds a dead socket) the
kernel listens there again on a new socket and logs ``kernel-socket-recreated``; when another
kernel or a file took the path, it logs ``kernel-socket-lost`` once, keeps serving the clients
it has, and takes the path back if it becomes free.
"""

from __future__ import annotations

import socket
import time

from iokit_host.errors import Diagnostic, Severity
from iokit_host.server.listener import Listener, ListenError
from iokit_host.settings import env_seconds

__all__ = ["CHECK_S", "SocketWatch", "check_interval"]

#: How often the socket's path is checked, in seconds.
CHECK_S = 1.0


def check_interval() -> float:
    """``IOKIT_KERNEL_SOCKET_CHECK``, else :data:`CHECK_S` (also when it is no number: the
    kernel is running already, and a bad value must not stop it)."""
    try:
        seconds = env_seconds("IOKIT_KERNEL_SOCKET_CHECK", CHECK_S)
    except ValueError:
        return CHECK_S
    return seconds if seconds > 0 else CHECK_S


class SocketWatch:
    """Checks that ``listener``'s path still leads to it, publishing it again when not."""

    def __init__(self, listener: Listener, interval_s: float | None = None) -> None:
        self.listener = listener
        self.interval_s = interval_s if interval_s is not None else check_interval()
        self.next_at = time.monotonic() + self.interval_s
        self._lost = False  # kernel-socket-lost was logged, and the path is not back yet

    def check(self, now: float) -> tuple[socket.socket | None, Diagnostic | None]:
        """The socket that stopped being the listening one (its waiting clients are still to
        be accepted, then it is closed), and what to log; each None when nothing happened."""
        self.next_at = now + self.interval_s
        listener = self.listener
        if listener.state() == "ours":
            return None, None
        try:
            previous = listener.republish()
        except ListenError as error:
            if self._lost:
                return None, None
            self._lost = True
            return None, Diagnostic(
                "kernel-socket-lost", "the socket file was replaced while the kernel ran, and "
                f"cannot be taken back: {error.diagnostic.message}; the connected clients are "
                "still served, new ones reach what is there now", file=listener.path,
                severity=Severity.WARNING,
                hint="stop this kernel (SIGTERM) or whatever took the path; the kernel takes "
                     "the path back when it is free")
        self._lost = False
        return previous, Diagnostic(
            "kernel-socket-recreated", "the socket file was removed while the kernel ran; "
            "it listens there again", file=listener.path, severity=Severity.WARNING,
            hint="something deletes files in that directory (a temp-directory cleaner?); "
                 "pass --socket with a path in a directory it leaves alone")
