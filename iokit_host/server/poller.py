"""The front end's wait for work (a Mach port set's receive): which sockets are ready, and
which peers hung up.

The front end reads a socket until the kernel has seen everything its peer sent, so that a
program that sent its last request and died is seen gone before anyone else's next request is
served. Reading until ``EAGAIN`` costs one more system call (and a raised exception) per
request; instead, :class:`Poller` reports a peer that closed its end with the readiness itself
(``EPOLLHUP``, which epoll reports whether asked or not), so a short read is known to have
taken everything. The kernel runs on Linux (``SO_PEERCRED``, ``/proc``), so epoll is there.
"""

from __future__ import annotations

import math
import select
import selectors
from select import EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT

__all__ = ["EPOLLIN", "HANGUP", "Poller"]

#: An event bit beside ``EVENT_READ`` and ``EVENT_WRITE``: the peer closed its end.
HANGUP = 1 << 2


class Poller(selectors.EpollSelector):
    """``selectors.EpollSelector`` whose :meth:`select` adds :data:`HANGUP` (and
    ``EVENT_READ``, when it is watched) to a socket's events when its peer is gone
    (``EPOLLHUP`` or ``EPOLLERR``).

    :meth:`wait` and :meth:`events` are :meth:`select` in two steps, for a loop that looks
    at the raw readiness first (one socket readable, nothing else: :data:`EPOLLIN` alone).
    """

    def wait(self, timeout: float | None = None) -> list[tuple[int, int]]:
        """Wait for readiness: ``(fd, epoll events)`` pairs (none when a signal came)."""
        if timeout is None:
            wait = -1.0
        elif timeout <= 0:
            wait = 0.0
        else:  # epoll_wait counts milliseconds: round up, to wait at least ``timeout``
            wait = math.ceil(timeout * 1e3) * 1e-3
        try:
            return self.epoll.poll(wait, max(len(self.keys_by_fd), 1))
        except InterruptedError:
            return []

    @property
    def epoll(self) -> select.epoll:
        """The base class's own epoll object (not in typeshed's stubs)."""
        epoll: select.epoll = self._selector  # type: ignore[attr-defined]
        return epoll

    @property
    def keys_by_fd(self) -> dict[int, selectors.SelectorKey]:
        """The base class's key table (not in typeshed's stubs): each descriptor's key."""
        keys: dict[int, selectors.SelectorKey] = self._fd_to_key  # type: ignore[attr-defined]
        return keys

    def events(self, fd_events: list[tuple[int, int]]) -> list[tuple[selectors.SelectorKey, int]]:
        """:meth:`wait`'s readiness as :meth:`select` reports it."""
        keys = self.keys_by_fd
        ready = []
        for fd, event in fd_events:
            key = keys.get(fd)
            if key is None:
                continue
            events = 0
            if event & ~EPOLLIN:
                events |= selectors.EVENT_WRITE
            if event & ~EPOLLOUT:
                events |= selectors.EVENT_READ
            events &= key.events
            if event & (EPOLLHUP | EPOLLERR):
                events |= HANGUP
            ready.append((key, events))
        return ready

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        return self.events(self.wait(timeout))
