"""Notifications a driver's own thread sends, handed to the kernel's loop (a Mach send from any
thread: ``IOUserClient::sendAsyncResult64`` and ``messageClients`` are callable from a
driver's timer or interrupt thread, and the port's queue takes the message at once).

The sessions' outboxes and the selector are the loop's alone. A notification a driver makes
on a thread of its own (an async completion, a ``message_clients`` interest message, a
service it registers there matching a program's notification) is queued here instead, in
the order it was made, and the loop is woken (:meth:`LoopMail.attach`'s ``wake``: a byte on
the stop signals' wake-up socket, never a stop request). The loop runs what waits at the
start of its next round (:meth:`LoopMail.run`), then the kernel's jobs such a thread queued
(its ``register_service``: :meth:`LoopMail.nudge` wakes the loop for them). Once the kernel stopped (:meth:`close`), a
late send is refused, quietly: the driver's thread neither raises nor waits.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

__all__ = ["MAIL_LIMIT", "ROUND_SHARE", "Droppable", "LoopMail"]

#: Notifications waiting for the loop, at most (every connection's queue bound, 1024, many
#: times over): a driver's thread sending in a tight loop while the loop is held up in a long
#: request holds no more than this; past it a notification is dropped and counted, as a full
#: port's queue drops one.
MAIL_LIMIT = 1 << 16
#: Notifications one round of the loop runs at most (a connection's whole queue): the rest
#: wait for the next round, so the programs' requests are served between. A driver's
#: threads flooding the mail made one round run all 65,536 (0.15-0.3 s), and every other
#: client waited that long.
ROUND_SHARE = 1024


class Droppable(Protocol):
    """Where a dropped notification is counted (a program's notification port), on the loop."""

    def dropped(self, count: int) -> None: ...


class LoopMail:
    """Work for the loop's thread, posted from any other."""

    def __init__(self, limit: int = MAIL_LIMIT) -> None:
        self.limit = limit
        #: The loop's thread: the one that made this (the kernel's main thread) until
        #: :meth:`attach` says otherwise.
        self.owner = threading.get_ident()
        #: Something waits (read without the lock: a stale False only costs the wake the
        #: poster sends anyway).
        self.pending = False
        self._lock = threading.Lock()
        self._queue: deque[tuple[Callable[[], object], Droppable]] = deque()
        self._dropped: dict[Droppable, int] = {}
        self._wake: Callable[[], None] | None = None
        self._closed = False

    def attach(self, wake: Callable[[], None]) -> None:
        """The loop is the calling thread, woken by ``wake`` (which must never block)."""
        with self._lock:
            self.owner = threading.get_ident()
            self._wake = wake

    def on_loop(self) -> bool:
        return threading.get_ident() == self.owner

    @property
    def closed(self) -> bool:
        """The kernel stopped: nothing posted now would be delivered."""
        return self._closed

    def post(self, work: Callable[[], object], port: Droppable) -> bool:
        """Queue ``work`` (a notification for ``port``) for the loop; False when the kernel
        stopped, or when too much waits (then it is counted as dropped on ``port``)."""
        with self._lock:
            if self._closed:
                return False
            if len(self._queue) >= self.limit:
                self._dropped[port] = self._dropped.get(port, 0) + 1
                return False
            self._queue.append((work, port))
            if self.pending:
                return True  # the loop was woken already and has not run yet
            self.pending = True
            if self._wake is not None:  # under the lock: never after close()
                self._wake()
            return True

    def nudge(self) -> None:
        """Wake the loop with nothing posted here: work another queue holds for it (the
        kernel's jobs a driver's thread queued, :meth:`IOKernel.wake_for_threads`)."""
        with self._lock:
            if self._closed or self.pending:
                return
            self.pending = True
            if self._wake is not None:
                self._wake()

    def run(self, limit: int | None = None) -> int:
        """Run what waits (at most ``limit``; the rest stays :attr:`pending`), in the order
        it was posted (the loop's thread only); how many. One that fails (a value the wire
        cannot carry) is counted as dropped on its port: the loop goes on."""
        with self._lock:
            queue = self._queue
            if limit is None or len(queue) <= limit:
                self._queue = deque()
            else:
                queue = deque(queue.popleft() for _ in range(limit))
            dropped, self._dropped = self._dropped, {}
            self.pending = bool(self._queue)
        for work, port in queue:
            try:
                work()
            except Exception:  # noqa: BLE001 - a notification lost, never the kernel's loop
                dropped[port] = dropped.get(port, 0) + 1
        for port, count in dropped.items():
            port.dropped(count)
        return len(queue)

    def close(self) -> None:
        """The kernel stopped: what waits is forgotten, later posts are refused."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            self._dropped.clear()
            self.pending = False
            self._wake = None
