"""The front end's connections: accepted, then admitted as sessions or refused (IOKit's
Mach ports have no such step; the kernel's socket stands in for the bootstrap port, and
this is who may hold a send right to it).

A peer of another uid, not in ``--group``, is refused; so is one past the most clients the
descriptor limit leaves room for (:func:`session_limit`), with a ``fatal`` saying so. When a
driver's files took the last descriptor anyway, a spare one kept for the purpose is given up
to accept the connection and refuse it, so a client never waits unanswered in the backlog
and the kernel never spins on a listener it cannot accept from. Refusals of a flood are
logged once, then counted; the count is logged when room returns. A connection that says no
hello in time is told so and closed.
"""

from __future__ import annotations

import errno
import os
import resource
import selectors
import socket
from collections.abc import Callable

from iokit_sdk.iokitlib.wire import pack

from iokit_host.errors import Diagnostic, Severity
from iokit_host.server.context import KernelContext
from iokit_host.server.greetings import Greetings
from iokit_host.server.listener import Listener
from iokit_host.server.peer import Peer, peer_of
from iokit_host.server.poller import Poller
from iokit_host.server.session import Session
from iokit_host.server.socket_watch import SocketWatch

__all__ = ["MAX_SESSIONS", "Admission", "open_spare", "session_limit"]

MAX_SESSIONS = 1024
#: Descriptors kept free beside the sessions' (shared memory passed in replies, driver
#: processes, the explorer, a tool's snapshot file): at least this many, or an eighth.
_FD_HEADROOM = 16


class Admission:
    """:class:`~.frontend.FrontEnd`'s connections; what it uses of the front end is
    declared here."""

    ctx: KernelContext
    listener: Listener
    gid: int | None
    sessions: dict[int, Session]
    max_sessions: int
    socket_watch: SocketWatch
    _selector: Poller
    _uid: int
    _spare: int | None
    _flooded: bool
    _refused_quietly: int
    _listening: bool
    _stopping: bool
    _greetings: Greetings
    _log: Callable[[Diagnostic], None]
    _watch: Callable[[Session], None]
    _end: Callable[[Session], None]

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE) and self._refuse_without_fds():
                    continue
                # Nothing to accept with: stop watching the listener (it would be ready
                # again at once, every round) until a session ends and frees a descriptor.
                self._log(Diagnostic(
                    "kernel-accept-failed", f"cannot accept clients: {error.strerror or error}",
                    severity=Severity.WARNING,
                    hint="new clients wait until one disconnects; raise 'ulimit -n'"))
                self._stop_listening()
                return
            self._admit(sock)

    def _refuse_without_fds(self) -> bool:
        """Out of descriptors: give up the spare one to accept the next client and tell it
        why, then take the spare back. False when there is no spare (or it did not help)."""
        if self._spare is None:
            return False
        os.close(self._spare)
        self._spare = None
        try:
            sock, _ = self.listener.socket.accept()
        except OSError:
            return False
        finally:
            self._spare = open_spare()
        self._refuse(sock, None, "the kernel is out of file descriptors (ulimit -n "
                     f"{_fd_limit()}); try again when a client disconnects")
        return True

    def _watch_socket(self, now: float) -> None:
        """Publish the socket again if its file was removed (:mod:`.socket_watch`)."""
        previous, diagnostic = self.socket_watch.check(now)
        if previous is not None:
            if self._listening:
                self._selector.unregister(previous)
                self._selector.register(self.listener.socket, selectors.EVENT_READ,
                                        "listener")
            while True:  # clients that connected before the file went: still theirs to serve
                try:
                    sock, _ = previous.accept()
                except OSError:
                    break
                self._admit(sock)
            previous.close()
        if diagnostic is not None:
            self._log(diagnostic)

    def _stop_listening(self) -> None:
        if self._listening:
            self._listening = False
            self._selector.unregister(self.listener.socket)

    def _room_again(self) -> None:
        """A session ended: listen again if descriptors had run out; log the flood."""
        if not self._listening and not self._stopping:
            self._listening = True
            self._selector.register(self.listener.socket, selectors.EVENT_READ, "listener")
        if self._refused_quietly:
            self._log(Diagnostic(
                "kernel-peer-refused", f"refused {self._refused_quietly} more client(s) while "
                f"at the limit of {self.max_sessions}", severity=Severity.WARNING))
        self._refused_quietly = 0
        self._flooded = False

    def _admit(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        try:
            peer = peer_of(sock)
        except OSError:
            sock.close()
            return
        refusal = self._refusal(peer)
        if refusal is not None:
            self._refuse(sock, peer, refusal)
            return
        session = Session(sock, peer, peer.task(self.ctx.policy), quota=self.ctx.handle_quota)
        self.sessions[sock.fileno()] = session
        self._greetings.expect(session)
        self._watch(session)

    def _close_silent(self) -> None:
        """Tell each connection whose hello, or the rest of a granted frame, is late why it
        is closed, and close it."""
        for session in self._greetings.overdue():
            if session.ready:  # a frame it began and did not finish
                reference = "kernel-frame-timeout"
                reason = (f"a frame of {session.granted} bytes did not arrive whole within "
                          f"{self._greetings.timeout_s:g} s (IOKIT_KERNEL_HELLO_TIMEOUT)")
            else:
                reference = "kernel-hello-timeout"
                reason = (f"no hello within {self._greetings.timeout_s:g} s of connecting "
                          "(IOKIT_KERNEL_HELLO_TIMEOUT)")
            self._log(Diagnostic(reference, f"closed pid {session.peer.pid} "
                                 f"({session.peer.name}): {reason}", severity=Severity.WARNING,
                                 hint="a client sends each request whole, at once"
                                 if session.ready else None))
            try:
                session.sock.send(pack({"fatal": reference, "message": reason}))
            except OSError:
                pass
            self._end(session)

    def _refuse(self, sock: socket.socket, peer: Peer | None, refusal: str) -> None:
        """Log the refusal (once per flood at the limit), tell the peer, close."""
        at_limit = peer is None or len(self.sessions) >= self.max_sessions
        if at_limit and self._flooded:
            self._refused_quietly += 1
        else:
            who = "a client" if peer is None else f"pid {peer.pid} ({peer.name}, uid {peer.uid})"
            self._log(Diagnostic("kernel-peer-refused", f"refused {who}: {refusal}",
                                 severity=Severity.WARNING))
            self._flooded = at_limit  # those after it, until room returns, are counted
        try:
            sock.setblocking(False)
            sock.send(pack({"fatal": "peer-not-allowed", "message": refusal}))
        except OSError:
            pass
        sock.close()

    def _refusal(self, peer: Peer) -> str | None:
        if len(self.sessions) >= self.max_sessions:
            return (f"the kernel serves at most {self.max_sessions} clients at once "
                    f"(ulimit -n {_fd_limit()}); try again when a client disconnects")
        if peer.uid == self._uid:
            return None
        if self.gid is not None and self.gid in peer.all_groups():
            return None
        return (f"uid {peer.uid} is not the kernel's (uid {self._uid})"
                + ("" if self.gid is None else f" and not in group {self.gid}"))


def _fd_limit() -> int:
    """The kernel's soft descriptor limit (``ulimit -n``)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def session_limit() -> int:
    """The most clients the kernel serves at once: :data:`MAX_SESSIONS`, or fewer when the
    descriptor limit leaves less room beside the descriptors open now and the headroom."""
    limit = _fd_limit()
    try:
        open_now = len(os.listdir("/proc/self/fd"))
    except OSError:
        open_now = 16
    room = limit - open_now - max(_FD_HEADROOM, limit // 8)
    return max(1, min(MAX_SESSIONS, room))


def open_spare() -> int | None:
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
