"""The front end: every socket read and written without blocking, one work loop behind it.

IOKit serialises registry changes and driver calls on work loops while Mach queues messages
for it. Here one thread (the main one) runs a ``selectors`` loop: it accepts connections
(refusing a peer of another uid, or not in ``--group``), reads whatever each socket has,
decodes frames into the session's inbox, hands requests to :func:`~.requests.handle` in turn
(a few per session per round, so no client starves another) and writes what each socket
takes. A client that sends faster than it reads is not read until its replies drain; one that
never reads loses notifications past its queue's bound, never the kernel's time.

Who may connect, and how many at once, is :mod:`.admission`'s.

SIGTERM, SIGINT and SIGHUP end :meth:`FrontEnd.serve`; :meth:`FrontEnd.shutdown` then stops listening,
tells every client, closes every user client, terminates the services and returns.
"""

from __future__ import annotations

import os
import select
import selectors
import socket
import sys
import time
from functools import partial
from time import monotonic
from typing import TextIO

from iokit_sdk.iokitlib.wire import FrameError, pack
from iokit_sdk.keys import SERVICE_PLANE
from iokit_sdk.service import IOService

from iokit_host.errors import Diagnostic
from iokit_host.server.admission import Admission, open_spare, session_limit
from iokit_host.server.context import KernelContext
from iokit_host.server.dext_ops import WATCH as DEXT_WATCH
from iokit_host.server.dext_ops import DextWatch
from iokit_host.server.fast_lane import NOTHING, one_request
from iokit_host.server.greetings import Greetings
from iokit_host.server.listener import Listener
from iokit_host.server.live_clock import LiveClock
from iokit_host.server.loop_mail import ROUND_SHARE
from iokit_host.server.poller import EPOLLIN, HANGUP, Poller
from iokit_host.server.registry_ops import forget_session
from iokit_host.server.requests import handle
from iokit_host.server.session import Session
from iokit_host.server.signals import StopSignals
from iokit_host.server.socket_watch import SocketWatch

__all__ = ["FrontEnd"]

#: Requests of one session served per round before the next session's.
_PER_ROUND = 32
#: Wall time one session's requests may take in a row before the next session's are served
#: (its next request waits for the next round): 32 pipelined requests of 0.1 s each (a
#: listing of 20,000 services) held another client's request back for 3 s.
_SLICE_S = 0.002
#: One-request rounds after which reading a session's next request ahead is tried again,
#: at most, once it found nothing (the client runs on another core, and answers later).
#: The wait doubles with each read in a row that found nothing, from none: a client on the
#: kernel's core has mostly sent its next request by the time the kernel looks, and missing
#: one costs a read, while waiting for readiness instead costs a read and a wait.
_IDLE_ROUNDS = 64
_READ = 1 << 16
_READS_PER_ROUND = 8
#: How long shutdown waits for clients to take the last messages (wall time; then it goes on).
_FLUSH_S = 2.0


class FrontEnd(Admission):
    """Serves ``ctx``'s kernel on ``listener``; ``log`` receives the kernel's diagnostics."""

    def __init__(self, ctx: KernelContext, listener: Listener, *, gid: int | None = None,
                 log: TextIO | None = None, signals: StopSignals | None = None) -> None:
        self.ctx = ctx
        self.listener = listener
        self.gid = gid
        self.log = log if log is not None else sys.stderr
        self.sessions: dict[int, Session] = {}
        self.signals = signals if signals is not None else StopSignals()
        self._selector = Poller()
        self._registered: dict[int, int] = {}
        self._logged = 0
        self._uid = os.geteuid()
        #: The most clients served at once (:func:`session_limit`).
        self.max_sessions = session_limit()
        #: Given up to accept (and refuse) a client when descriptors ran out (``EMFILE``).
        self._spare: int | None = open_spare()
        #: A refusal at the limit was logged; those after it are counted, not logged, until
        #: room returns (a flood of connections logs two lines, not one per connection).
        self._flooded = False
        self._refused_quietly = 0
        self._listening = True
        self._stopping = False
        #: The connections that have not said hello yet (closed when it is late).
        self._greetings = Greetings()
        # One receive buffer for every socket: a read copies out what it frames at once.
        self._received = memoryview(bytearray(_READ))
        #: The socket's path checked now and then: a removed file is published again.
        self.socket_watch = SocketWatch(listener)
        #: Notifications drivers' own threads send, run by this (the loop's) thread.
        self.mail = ctx.notifications.mail
        self.mail.attach(self.signals.wake_loop)
        ctx.host.kernel.wake_for_threads(self.mail.nudge)  # a driver's register_service...

    # -- the loop ------------------------------------------------------------------------
    def serve(self) -> None:
        """Serve until a stop is requested (SIGTERM, SIGINT or :meth:`StopSignals.request`)."""
        poller = self._selector
        poller.register(self.listener.socket, selectors.EVENT_READ, "listener")
        poller.register(self.signals.wake, selectors.EVENT_READ, "wake")
        dexts = DextWatch(self.ctx.host, poller)  # driver processes dying while idle
        self.print_log()
        live = LiveClock(self.ctx.host)
        # One armed period for the whole loop: the watchdog's signal handler stays installed
        # instead of being swapped in and out around every request (two system calls each).
        # One set of checks too: what a request's driver code changed is put back after it.
        with self.ctx.host.kernel.driver_calls.watchdog.armed(), \
                self.ctx.driver_work.checking():
            signals = self.signals
            # The common round, one client's one request and nothing else, is told from the
            # raw readiness (one descriptor, EPOLLIN alone) before any is converted.
            epoll_wait = poller.epoll.poll
            keys = poller.keys_by_fd  # the listener and the wake pipe at least: never empty
            # The session the last round was, when it was one request's (:mod:`.fast_lane`)
            # and complete: it is at rest, and it stays so until something else runs.
            served: Session | None = None
            ahead = 0  # its requests read ahead in a row: at most a usual round's share
            idle = 0  # one-request rounds to go before reading ahead again (it found nothing)
            backoff = 0  # the wait after the next read ahead that finds nothing
            since = 0.0  # when reading ahead began (the session's slice, _SLICE_S)
            while not signals.requested:
                if served is not None and ahead < _PER_ROUND and not idle and (
                        not ahead or monotonic() - since < _SLICE_S):
                    # Its next request is most likely there already: read it without
                    # waiting (timers, driver processes and the others wait no longer
                    # than behind a usual round's share of one session's requests).
                    if not ahead:
                        since = monotonic()
                    outcome = one_request(self, served, True)
                    if outcome:
                        ahead += 1
                        backoff = 0
                        continue
                    if outcome is not NOTHING:  # read: the round goes on as usual
                        served = None
                        self._round([], dexts, live)
                        continue
                    idle, backoff = backoff, min(2 * backoff + 2, _IDLE_ROUNDS)
                ahead = 0
                dexts.sync()
                for taken in signals.reclaim():  # before waiting: SIGTERM must wake it
                    self.ctx.host.kernel.report(taken)  # a driver's doing: the host's log
                    self.print_log()
                # After one request's round no session can be busy: none was before it, and
                # it left nothing unserved.
                wait = live.wait_s() if served is not None or not self._busy() else 0
                if self.mail.pending:  # a driver's thread sent one since the round began
                    wait = 0
                if self._greetings:
                    self._close_silent()
                    wait = self._greetings.wait_s(wait)
                if wait is None:
                    try:
                        # Not for ever: the socket's path is checked now and then.
                        ready = epoll_wait(self.socket_watch.interval_s, len(keys))
                    except InterruptedError:
                        ready = []
                    if len(ready) == 1 and ready[0][1] == EPOLLIN:
                        key = keys.get(ready[0][0])
                        if key is not None and type(key.data) is Session:
                            session = key.data
                            if one_request(self, session, session is served):
                                served = session
                                if idle:
                                    idle -= 1
                                continue
                            ready = []  # read, or nothing there: the round goes on as usual
                    served = None
                    events = poller.events(ready)
                else:
                    served = None
                    events = poller.select(min(wait, self.socket_watch.interval_s))
                self._round(events, dexts, live)

    def _round(self, events: list[tuple[selectors.SelectorKey, int]], dexts: DextWatch,
               live: LiveClock) -> None:
        """The usual round: what drivers' threads sent first, then read what is ready, serve
        the inboxes, write what can be."""
        if self.mail.pending:
            self.mail.run(ROUND_SHARE)  # the rest next round: requests are served between
            kernel = self.ctx.host.kernel
            if kernel.pending_jobs():  # queued on a driver's thread (IOKernel.post)
                kernel.run_until_quiet()
        now = time.monotonic()
        if now >= self.socket_watch.next_at:
            self._watch_socket(now)
        for key, mask in events:
            session = key.data  # a session's socket (the key's data), or one of ours
            if type(session) is Session:
                self._ready(session, mask)
            elif session == DEXT_WATCH:
                dexts.ready()
            elif session == "listener":
                self._accept()
            else:
                self.signals.drain()
        live.run_due()  # host-clock timers (a client's time to answer) in wall time
        self._serve_requests()
        self.print_log()  # before the replies: a client that was answered sees it
        self._settle()

    def _busy(self) -> bool:
        """Some session has requests it may have served now."""
        for session in self.sessions.values():
            if session.inbox and not session.outbox.full:
                return True
        return False

    def _ready(self, session: Session, mask: int) -> None:
        if session.gone:  # ended earlier in this round
            return
        if mask & selectors.EVENT_READ:
            self._read(session, mask & HANGUP)
        if mask & selectors.EVENT_WRITE and not session.gone:
            self._write(session)

    def _read(self, session: Session, hung_up: int) -> None:
        """Read what the socket holds (a few reads at most, for fairness), so that a peer that
        sent its last request and died is seen dead before anyone else's next request. A
        read shorter than the buffer took all there was, unless the peer hung up (then the
        end of its stream is read too)."""
        received = self._received
        for _ in range(_READS_PER_ROUND):
            try:
                count = session.sock.recv_into(received)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._end(session)
                return
            if not count:
                self.end_of_stream(session, hung_up)
                return
            try:
                session.inbox.extend(session.reader.feed(received[:count]))
            except FrameError as error:
                session.bad_frame(error)
                return
            if (count < _READ and not hung_up) or not session.wants_read:
                return

    def _write(self, session: Session) -> None:
        try:
            session.outbox.send(session.sock)
        except OSError:
            self._end(session)

    # -- requests --------------------------------------------------------------------------
    def _serve_requests(self) -> None:
        ctx = self.ctx
        for session in [s for s in self.sessions.values() if s.inbox]:
            served = 0
            until = monotonic() + _SLICE_S
            while (session.inbox and served < _PER_ROUND and not session.gone
                   and not session.outbox.full):
                try:  # a large frame is decoded now (:class:`~.session.Deferred`)
                    message = session.reader.take(session.inbox.popleft())
                except FrameError as error:  # nothing after it can be trusted
                    session.fatal(error.reference, str(error))
                    break
                handle(ctx, session, message)
                del message  # gone before the next is built
                served += 1
                if monotonic() >= until:  # its slice is spent: the others' turn, and
                    # its next after theirs (the last in order), those read meanwhile too
                    if self.sessions.pop(session.fd, None) is session:
                        self.sessions[session.fd] = session
                    break
            if session.doomed is not None:
                session.served()

    def _settle(self) -> None:
        """Write what can be written, close finished sessions, update what is watched."""
        for session in list(self.sessions.values()):
            if session.outbox.has_data():
                self._write(session)
            if session.gone:
                continue
            if session.closing is not None and not session.inbox \
                    and not session.outbox.has_data():
                self._end(session)
            else:
                self._watch(session)

    def _watch(self, session: Session) -> None:
        fd = session.fd
        events = ((selectors.EVENT_READ if session.wants_read else 0)
                  | (selectors.EVENT_WRITE if session.outbox.has_data() else 0))
        if session.granted or self._greetings:  # a granted frame is due (:class:`Greetings`)
            self._greetings.frame(session)
        current = self._registered.get(fd)
        if events == current:
            return
        if current is not None:
            if events:
                self._selector.modify(session.sock, events, session)
            else:
                self._selector.unregister(session.sock)
                del self._registered[fd]
                return
        elif events:
            self._selector.register(session.sock, events, session)
        else:  # nothing watched, nothing to watch: its entry stays absent, never 0
            return
        self._registered[fd] = events

    def end_of_stream(self, session: Session, hung_up: int = 0) -> None:
        """The client's stream ended. A client that is gone (both directions closed: it
        exited, or was killed) ends now, its requests not yet served with it; one that only
        shut its sending side (``shutdown(SHUT_WR)``) has what it sent answered, then the
        connection closes."""
        if hung_up or not (session.inbox or session.outbox.has_data()) \
                or _peer_gone(session.sock):
            self._end(session)
        elif session.closing is None:
            session.closing = "the client closed its end"

    def _end(self, session: Session) -> None:
        """The client is gone: its connections die (``clientDied``), its notifications and
        ports go, its handles are dropped."""
        if session.gone:
            return
        session.gone = True
        self._greetings.forget(session)
        fd = session.sock.fileno()
        if self._registered.pop(fd, None) is not None:
            self._selector.unregister(session.sock)
        self.sessions.pop(fd, None)
        session.sock.close()
        if not self._listening or self._flooded:
            self._room_again()
        session.outbox.discard()
        session.release_grant()  # its unfinished frame's share of UNFINISHED_LIMIT
        self.ctx.driver_work.run_checked(partial(self._forget_all, session),
                                         "while the kernel closed a departed client's objects")

    def _forget_all(self, session: Session) -> None:
        """Drop the handles of ``session``, which is gone (a driver's ``client_died``)."""
        forget_session(self.ctx, session)
        self.ctx.host.kernel.run_until_quiet()

    # -- the log -------------------------------------------------------------------------
    def print_log(self) -> None:
        """Print the kernel's diagnostics reported since the last call (its kernel log),
        then the connections' (:attr:`KernelContext.log`, printed and forgotten)."""
        diagnostics = self.ctx.host.diagnostics
        if len(diagnostics) != self._logged:
            for diagnostic in diagnostics[self._logged:]:
                self._print(str(diagnostic))
            self._logged = len(diagnostics)
        log = self.ctx.log
        if log:
            for diagnostic in log:
                self._print(str(diagnostic))
            log.clear()

    def _log(self, diagnostic: Diagnostic) -> None:
        """Log a connection's event (printed at once; not the host's: a tool reading the
        kernel lists the host's diagnostics, and a flood of clients must not grow them)."""
        self.ctx.log.append(diagnostic)
        self.print_log()

    def _print(self, text: str) -> None:
        try:
            print(f"iokit kernel: {text}", file=self.log, flush=True)
        except (OSError, ValueError):
            pass

    # -- shutdown --------------------------------------------------------------------------
    def shutdown(self) -> str:
        """Stop listening, tell the clients, close the user clients, terminate the services.

        :returns: one line saying what was done.
        """
        self._stopping = True
        self._stop_listening()
        self.listener.close()
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
        self.mail.run()  # all that drivers' threads sent before the stop reaches its programs
        told = 0
        for session in list(self.sessions.values()):
            if not session.gone:
                session.outbox.reply(pack({"kind": "shutdown"}))
                told += 1
        self._flush_all()
        closed = self.ctx.driver_work.run_checked(self.ctx.user_clients.close_all,
                                                  "while the kernel closed its user clients")
        for session in list(self.sessions.values()):
            self._end(session)
        terminated = self._terminate_services()
        self.mail.close()  # a driver's thread sending later is refused, quietly
        self.ctx.host.kernel.wake_for_threads(None)
        self.print_log()
        self._selector.close()
        return (f"shut down: {told} client(s) told, {closed} user client(s) closed, "
                f"{terminated} service(s) terminated")

    def _flush_all(self) -> None:
        deadline = time.monotonic() + _FLUSH_S
        while time.monotonic() < deadline:
            pending = [s for s in self.sessions.values() if s.outbox.has_data() and not s.gone]
            if not pending:
                return
            for session in pending:
                self._write(session)
            waiting = [s for s in pending if s.outbox.has_data() and not s.gone]
            if waiting:
                selectors_ = selectors.DefaultSelector()
                for session in waiting:
                    selectors_.register(session.sock, selectors.EVENT_WRITE)
                selectors_.select(max(deadline - time.monotonic(), 0.0))
                selectors_.close()

    def _terminate_services(self) -> int:
        from iokit_host.kernel.termination import terminate

        kernel = self.ctx.host.kernel
        root = self.ctx.host.registry.plane_root(SERVICE_PLANE)
        if not isinstance(root, IOService) or root.is_inactive():
            return 0
        victims = terminate(kernel, root)
        kernel.run_until_quiet()
        return len(victims)


def _peer_gone(sock: socket.socket) -> bool:
    """The peer closed both directions (``POLLHUP``), not only its sending side."""
    poll = select.poll()
    poll.register(sock, select.POLLOUT)
    try:
        return any(events & (select.POLLHUP | select.POLLERR) for _, events in poll.poll(0))
    except OSError:
        return True
