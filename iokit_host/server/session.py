"""One connection: its peer, handles and queues (a task's IPC space and its ports' queues).

Each accepted connection is a :class:`Session`: who is on the other end (:class:`~.peer.Peer`
and the :class:`OwningTask` user clients see), the frames read but not yet handled, the
objects it holds (:class:`~.handles.HandleTable`) and what waits to be written
(:class:`Outbox`). Replies are never dropped (a client that does not read them stops being
read, so it holds back only itself); notifications are bounded per connection, as Mach bounds
a port's queue: what overflows is dropped, counted, and announced by a ``dropped`` message
once the queue has room again. Writing never blocks: the front end sends what the socket
takes and keeps the rest.
"""

from __future__ import annotations

import socket
from collections import deque
from typing import Any

from iokit_sdk.iokitlib.wire import MAX_REQUEST_FRAME, FrameReader, pack
from iokit_sdk.userclient import OwningTask

from iokit_host.server.handles import HandleTable
from iokit_host.server.peer import Peer

__all__ = ["NOTE_QUEUE_LIMIT", "Outbox", "Session"]

#: Notifications one connection may have waiting (IOKit's ``kMaxOutstanding`` is 1024 too).
NOTE_QUEUE_LIMIT = 1024
#: Requests read ahead of the kernel per connection; past it the socket is not read.
INBOX_LIMIT = 256
#: Reply bytes waiting to be written past which the connection's requests wait.
REPLY_BACKLOG_LIMIT = 8 << 20
_CHUNK = 256 << 10


class Outbox:
    """What waits to be written on one connection, in order: replies, then notifications."""

    def __init__(self, note_limit: int = NOTE_QUEUE_LIMIT) -> None:
        self.note_limit = note_limit
        self._buffer = bytearray()
        self._replies: deque[bytes] = deque()
        self._reply_bytes = 0
        self._notes: deque[bytes] = deque()
        self._dropped: dict[int, int] = {}

    def reply(self, frame: bytes) -> None:
        self._replies.append(frame)
        self._reply_bytes += len(frame)

    def note(self, port: int, frame: bytes) -> bool:
        """Queue a notification for ``port``; False when the queue is full and it is dropped."""
        if len(self._notes) >= self.note_limit:
            self.drop(port)
            return False
        self._notes.append(frame)
        return True

    def has_room(self) -> bool:
        return len(self._notes) < self.note_limit

    def drop(self, port: int) -> None:
        """Count a notification for ``port`` that could not be queued."""
        self._dropped[port] = self._dropped.get(port, 0) + 1

    @property
    def backlog(self) -> int:
        """Reply bytes not yet written (what holds a connection's requests back)."""
        return len(self._buffer) + self._reply_bytes

    def has_data(self) -> bool:
        return bool(self._buffer or self._replies or self._notes or self._dropped)

    def send(self, sock: socket.socket) -> None:
        """Write what the socket takes now.

        :raises OSError: the peer is gone (the session ends).
        """
        while True:
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

    def _fill(self) -> None:
        buffer = self._buffer
        while len(buffer) < _CHUNK and self._replies:
            frame = self._replies.popleft()
            self._reply_bytes -= len(frame)
            buffer += frame
        while len(buffer) < _CHUNK and self._notes:
            buffer += self._notes.popleft()
        if not self._notes and self._dropped and len(buffer) < _CHUNK:
            for port, count in self._dropped.items():
                buffer += pack({"port": port, "kind": "dropped", "count": count})
            self._dropped.clear()


class Session:
    """One client connection."""

    def __init__(self, sock: socket.socket, peer: Peer, task: OwningTask, *,
                 note_limit: int = NOTE_QUEUE_LIMIT) -> None:
        self.sock = sock
        self.peer = peer
        self.task = task
        self.reader = FrameReader(MAX_REQUEST_FRAME, sets=False)
        self.inbox: deque[dict[str, Any]] = deque()
        self.handles = HandleTable()
        self.outbox = Outbox(note_limit)
        #: True once the client said hello with our protocol version.
        self.ready = False
        #: Why the session is ending; set, it is closed once its outbox is written.
        self.closing: str | None = None
        self.gone = False

    def __repr__(self) -> str:
        return f"<session pid {self.peer.pid} ({self.peer.name})>"

    def reply(self, request_id: Any, fields: dict[str, Any]) -> None:
        self.outbox.reply(pack({"id": request_id, **fields}))

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

    @property
    def wants_read(self) -> bool:
        return (not self.gone and self.closing is None and len(self.inbox) < INBOX_LIMIT
                and self.outbox.backlog < REPLY_BACKLOG_LIMIT)
