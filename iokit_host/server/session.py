"""One connection: its peer, handles and queues (a task's IPC space and its ports' queues).

Each accepted connection is a :class:`Session`: who is on the other end (:class:`~.peer.Peer`
and the :class:`OwningTask` user clients see), the frames read but not yet handled, the
objects it holds (:class:`~.handles.HandleTable`) and what waits to be written
(:class:`Outbox`). Replies are never dropped (a client that does not read them stops being
read, so it holds back only itself); notifications are bounded per connection, as Mach bounds
a port's queue: what overflows is dropped, counted, and announced by a ``dropped`` message
once the queue has room again. Writing never blocks: the front end sends what the socket
takes and keeps the rest.

A reply may carry file descriptors (``IOConnectMapMemory``'s memory, as a Mach reply carries a
memory entry's port right): they ride on the reply's first byte (``SCM_RIGHTS``), and the
session's copies are closed once sent, or when the session ends unsent.
"""

from __future__ import annotations

import os
import socket
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar

import msgpack
from iokit_sdk.iokitlib.wire import MAX_REQUEST_FRAME, FrameError, FrameReader, pack
from iokit_sdk.userclient import OwningTask
from iokit_sdk.wirecodec import HEADER, default

from iokit_host.server.handles import HandleTable, UserQuota
from iokit_host.server.peer import Peer

if TYPE_CHECKING:
    from iokit_host.server.live_events import Waiting
    from iokit_host.server.snapshot import Walk

__all__ = ["FD_REPLY_LIMIT", "NOTE_QUEUE_LIMIT", "UNFINISHED_LIMIT", "Outbox", "Session",
           "close_fds"]

#: Notifications one connection may have waiting (IOKit's ``kMaxOutstanding`` is 1024 too).
NOTE_QUEUE_LIMIT = 1024
#: Requests read ahead of the kernel per connection; past it the socket is not read.
INBOX_LIMIT = 256
#: Reply bytes waiting to be written past which the connection's requests wait.
REPLY_BACKLOG_LIMIT = 8 << 20
#: Replies carrying descriptors (``IOConnectMapMemory``) waiting to be written past which the
#: connection's requests wait: each holds an open descriptor of the kernel's, so a client that
#: asks for memory and never reads must not take the kernel's every descriptor.
FD_REPLY_LIMIT = 16
#: Bytes of unfinished frames (a request's length read, not yet all its bytes) the kernel
#: holds for all its clients at once. Each frame may take :data:`MAX_REQUEST_FRAME`, and a
#: client may leave one unfinished on each of its connections: unbounded, 1024 of them held
#: 4 GiB. A frame larger than :data:`_UNGRANTED` is read on only once its size is granted
#: from this budget (until then its connection is not read: the client's send waits, as Mach's
#: does on a full queue); a frame that completes gives its share back.
UNFINISHED_LIMIT = 64 << 20
#: An unfinished frame this size or smaller needs no grant (one read's worth).
_UNGRANTED = 64 << 10
#: A frame larger than this is decoded when served, not when read (:class:`Deferred`).
_DEFERRED = 64 << 10
#: Bytes of deferred frames a connection's inbox may hold before its socket is not read.
INBOX_BYTES_LIMIT = 8 << 20
_CHUNK = 256 << 10


class Deferred(dict[str, Any]):
    """A request frame read whole but decoded only when it is served (:func:`take`): a
    frame's msgpack may build some 70 times its size in objects (a 4 MiB array of empty
    maps: 300 MB), and frames decoded as they arrived waited in the inboxes together (16
    clients' 4 MiB requests at once grew the kernel by 1.8 GB). Served one at a time, one
    such request is built at once, and only while it is served."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body


class RequestReader(FrameReader):
    """The kernel's reader of a client's frames: one over :data:`_DEFERRED` bytes is kept
    as its bytes (a :class:`Deferred`), counted in :attr:`deferred_bytes` until taken."""

    def __init__(self) -> None:
        super().__init__(MAX_REQUEST_FRAME, sets=False)
        self.deferred_bytes = 0

    def decode(self, body: bytes | memoryview) -> dict[str, Any]:
        if len(body) <= _DEFERRED:
            return super().decode(body)
        self.deferred_bytes += len(body)
        return Deferred(body if type(body) is bytes else bytes(body))

    def take(self, message: dict[str, Any]) -> dict[str, Any]:
        """``message`` decoded, when it was deferred.

        :raises FrameError: it is not a msgpack map (nothing after it can be trusted).
        """
        if type(message) is not Deferred:
            return message
        self.deferred_bytes -= len(message.body)
        return super().decode(message.body)


class Outbox:
    """What waits to be written on one connection, in order: replies, then notifications."""

    #: Frames queued on any outbox so far: the front end's one-request round
    #: (:mod:`.fast_lane`) sees from it that a request queued something besides its own reply
    #: (a notification to another client) and settles every session then.
    queued: ClassVar[int] = 0

    def __init__(self, note_limit: int = NOTE_QUEUE_LIMIT) -> None:
        self.note_limit = note_limit
        self._buffer = bytearray()
        self._replies: deque[bytes] = deque()
        self._reply_bytes = 0
        #: Descriptors to pass with a reply, by the reply's frame object (rare: shared memory).
        self._fds: dict[int, tuple[bytes, list[int]]] = {}
        self._notes: deque[bytes] = deque()
        self._dropped: dict[int, int] = {}

    def reply(self, frame: bytes, fds: list[int] | None = None) -> None:
        """Queue ``frame``; ``fds`` (the outbox's to close) travel with its first byte."""
        Outbox.queued += 1
        self._replies.append(frame)
        self._reply_bytes += len(frame)
        if fds:
            self._fds[id(frame)] = (frame, fds)

    def note(self, port: int, frame: bytes) -> bool:
        """Queue a notification for ``port``; False when the queue is full and it is dropped."""
        Outbox.queued += 1
        if len(self._notes) >= self.note_limit:
            self.drop(port)
            return False
        self._notes.append(frame)
        return True

    def has_room(self) -> bool:
        return len(self._notes) < self.note_limit

    def drop(self, port: int, count: int = 1) -> None:
        """Count ``count`` notifications for ``port`` that could not be queued."""
        Outbox.queued += 1  # the ``dropped`` message it makes is written in time
        self._dropped[port] = self._dropped.get(port, 0) + count

    @property
    def backlog(self) -> int:
        """Reply bytes not yet written."""
        return len(self._buffer) + self._reply_bytes

    @property
    def full(self) -> bool:
        """Too much waits to be written (bytes, or descriptors): the connection's requests
        wait until the client reads."""
        return len(self._buffer) + self._reply_bytes >= REPLY_BACKLOG_LIMIT or \
            len(self._fds) >= FD_REPLY_LIMIT

    def has_data(self) -> bool:
        return bool(self._buffer or self._replies or self._notes or self._dropped)

    def send(self, sock: socket.socket) -> None:
        """Write what the socket takes now.

        :raises OSError: the peer is gone (the session ends).
        """
        replies = self._replies
        if not self._buffer and len(replies) == 1 and not self._notes and not self._fds:
            # The common case, one reply and nothing else: sent as it is, no copy.
            frame = replies.popleft()
            self._reply_bytes -= len(frame)
            try:
                sent = sock.send(frame)
            except BlockingIOError:
                sent = 0
            if sent < len(frame):
                self._buffer += memoryview(frame)[sent:]
            elif not self._dropped:
                return  # all written
        while True:
            if self._fds and not self._buffer and self._send_fds(sock):
                continue
            self._fill()
            if not self._buffer:
                return
            try:
                sent = sock.send(self._buffer)
            except BlockingIOError:
                return
            del self._buffer[:sent]
            if sent == 0:
                return

    def _send_fds(self, sock: socket.socket) -> bool:
        """Send the next reply with the descriptors it carries, when it is next; True when
        it went (then its descriptors are the peer's, and ours are closed)."""
        frame = self._replies[0] if self._replies else None
        carried = self._fds.get(id(frame)) if frame is not None else None
        if frame is None or carried is None or carried[0] is not frame:
            return False
        try:
            sent = socket.send_fds(sock, [frame], carried[1])
        except BlockingIOError:
            return False
        self._replies.popleft()
        self._reply_bytes -= len(frame)
        del self._fds[id(frame)]
        close_fds(carried[1])
        self._buffer += memoryview(frame)[sent:]
        return True

    def _fill(self) -> None:
        buffer = self._buffer
        replies, fds = self._replies, self._fds
        while len(buffer) < _CHUNK and replies:
            if fds and id(replies[0]) in fds:
                return  # a reply with descriptors goes on its own (_send_fds)
            frame = replies.popleft()
            self._reply_bytes -= len(frame)
            buffer += frame
        while len(buffer) < _CHUNK and self._notes:
            buffer += self._notes.popleft()
        if not self._notes and self._dropped and len(buffer) < _CHUNK:
            for port, count in self._dropped.items():
                buffer += pack({"port": port, "kind": "dropped", "count": count})
            self._dropped.clear()

    def discard(self) -> None:
        """The connection is gone: close the descriptors that were never sent."""
        for _frame, fds in self._fds.values():
            close_fds(fds)
        self._fds.clear()


def close_fds(fds: list[int]) -> None:
    """Close each of ``fds`` (descriptors that will not be sent after all)."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class Session:
    """One client connection."""

    #: Bytes of :data:`UNFINISHED_LIMIT` granted to the sessions' unfinished frames.
    granted_total: ClassVar[int] = 0

    def __init__(self, sock: socket.socket, peer: Peer, task: OwningTask, *,
                 note_limit: int = NOTE_QUEUE_LIMIT, quota: UserQuota | None = None) -> None:
        """``quota``: what the peer's user may hold across its connections (none: only the
        connection's own bound)."""
        self.sock = sock
        #: The socket's descriptor number, while the session lives.
        self.fd = sock.fileno()
        self.peer = peer
        self.task = task
        self.reader = RequestReader()
        #: The size of the unfinished frame :attr:`reader` holds, once granted (0: none).
        self.granted = 0
        self.inbox: deque[dict[str, Any]] = deque()
        self.handles = HandleTable(quota=quota, uid=peer.uid)
        #: The handle of each assertion the client holds, by assertion id.
        self.assertions: dict[int, int] = {}
        self.outbox = Outbox(note_limit)
        #: Packs this session's replies (:meth:`encode`; the front end's one-request round).
        self.packer = msgpack.Packer(default=default, strict_types=True, use_bin_type=True)
        self._attached: list[int] = []
        #: True once the client said hello with our protocol version.
        self.ready = False
        #: Why the session is ending; set, it is closed once its outbox is written.
        self.closing: str | None = None
        #: A bad frame came after the requests in the inbox: they are served, then the client
        #: is told this (reference, message) and disconnected (:meth:`bad_frame`).
        self.doomed: tuple[str, str] | None = None
        self.gone = False
        #: The system transition this client's scenario (``tool.events``) waits for.
        self.scenario_wait: Waiting | None = None
        #: The registry snapshot this client takes in parts (``tool.registry``).
        self.registry_walk: Walk | None = None

    def __repr__(self) -> str:
        return f"<session pid {self.peer.pid} ({self.peer.name})>"

    def attach_fd(self, fd: int) -> None:
        """Pass ``fd`` (now the session's to close) with the reply of the request being
        served (:meth:`detach_fds` takes it for that reply)."""
        self._attached.append(fd)

    def detach_fds(self) -> list[int]:
        attached, self._attached = self._attached, []
        return attached

    def reply(self, request_id: Any, fields: dict[str, Any], fds: list[int] | None = None
              ) -> None:
        """Queue the reply to request ``request_id``; ``fds`` travel with it (and are the
        outbox's to close from then on).

        :raises TypeError: a value has no wire form. :raises OverflowError: an integer does
            not fit in 64 bits (nothing is queued then).
        """
        self.outbox.reply(self.encode(request_id, fields), fds)

    def encode(self, request_id: Any, fields: dict[str, Any]) -> bytes:
        """The frame of the reply to request ``request_id`` (:meth:`reply` queues it).

        :raises TypeError: a value has no wire form. :raises OverflowError: an integer does
            not fit in 64 bits.
        """
        fields["id"] = request_id
        packer = self.packer
        try:
            body = packer.pack(fields)
        except BaseException:
            packer.reset()  # what a failed pack left in the packer's buffer goes
            raise
        frame: bytes = HEADER.pack(len(body)) + body
        return frame

    def notify(self, port: int, note: dict[str, Any]) -> bool:
        """Queue ``note`` for notification port ``port``; False when dropped (or gone)."""
        if self.gone or self.closing is not None:
            return False
        return self.outbox.note(port, pack({"port": port, **note}))

    def fatal(self, reference: str, message: str) -> None:
        """Tell the client why it is being disconnected, then close once that is written."""
        if self.closing is None:
            self.outbox.reply(pack({"fatal": reference, "message": message}))
            self.closing = message
            self.inbox.clear()
            self.reader.deferred_bytes = 0

    def bad_frame(self, error: FrameError) -> None:
        """A frame that cannot be read: the intact requests that came before it are served
        (as Mach delivers each message of a queue on its own), then the client is told why
        and disconnected; nothing after the bad frame is read."""
        self.inbox.extend(error.messages)
        if self.inbox:
            self.doomed = (error.reference, str(error))
        else:
            self.fatal(error.reference, str(error))

    def served(self) -> None:
        """The inbox was served: a doomed session is told and closed now."""
        if self.doomed is not None and not self.inbox:
            self.fatal(*self.doomed)

    @property
    def wants_read(self) -> bool:
        """The socket may be read now; an unfinished frame's grant is settled on the way
        (:meth:`settle_grant`: a frame granted nothing is not read on until room returns)."""
        if self.gone or self.closing is not None or self.doomed is not None \
                or len(self.inbox) >= INBOX_LIMIT \
                or self.reader.deferred_bytes >= INBOX_BYTES_LIMIT:
            return False
        return not self.outbox.full and self.settle_grant()

    def settle_grant(self) -> bool:
        """Give back the grant of a frame that completed; ask one for the unfinished frame
        the reader holds now, when it is over :data:`_UNGRANTED`. False when that frame is
        refused a grant: more of it may not be read yet."""
        unread = self.reader.unread
        size = HEADER.unpack_from(unread)[0] if len(unread) >= HEADER.size else 0
        if size <= _UNGRANTED:
            size = 0
        if size == self.granted:
            return True
        self.release_grant()
        if Session.granted_total + size > UNFINISHED_LIMIT:
            return False
        Session.granted_total += size
        self.granted = size
        return True

    def release_grant(self) -> None:
        """Give back what this session's unfinished frame was granted (it completed, or the
        session ended)."""
        Session.granted_total -= self.granted
        self.granted = 0
