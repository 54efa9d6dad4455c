"""Notification ports: where matching, interest and async-completion messages arrive
(``IONotificationPortCreate``, ``IODispatchCalloutFromMessage``).

A program creates a port, installs notifications on it and runs its run loop, which calls the
program's callbacks as messages arrive. There is no CFRunLoop here: :meth:`dispatch`
(``IONotificationPortDispatch``) is the run loop's turn: it waits for messages up to a timeout
and calls the callback of each. The kernel bounds what it queues for a process that does not
read; what overflowed is dropped and counted in :attr:`IONotificationPort.dropped`, as Mach
drops messages to a full port.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iokit_sdk.iokitlib.objects import io_iterator_t, io_object_t
from iokit_sdk.iokitlib.port import MainPort

__all__ = ["IONotificationPort", "InterestCallback", "MatchingCallback"]

#: ``IOServiceMatchingCallback(refcon, iterator)``.
MatchingCallback = Callable[[Any, io_iterator_t], None]
#: ``IOServiceInterestCallback(refcon, service, messageType, messageArgument)``.
InterestCallback = Callable[[Any, io_object_t, int, Any], None]
#: ``IOAsyncCallback(refcon, result, args)``.
AsyncCallback = Callable[[Any, int, tuple[int, ...]], None]


@dataclass(slots=True)
class _Matching:
    callback: MatchingCallback
    refcon: Any
    iterator: io_iterator_t


@dataclass(slots=True)
class _Interest:
    callback: InterestCallback
    refcon: Any
    service: io_object_t


class IONotificationPort:
    """A notification port of one :class:`MainPort`; ``handle`` is the kernel's name for it."""

    def __init__(self, main_port: MainPort, handle: int) -> None:
        self.main_port = main_port
        self.handle = handle
        #: Messages the kernel dropped because this process did not read them in time.
        self.dropped = 0
        self._matching: dict[int, _Matching] = {}
        self._interest: dict[int, _Interest] = {}
        self._async: dict[int, tuple[AsyncCallback, Any]] = {}
        self._tokens = itertools.count(1)

    def add_matching(self, iterator: io_iterator_t, callback: MatchingCallback,
                     refcon: Any) -> None:
        self._matching[int(iterator)] = _Matching(callback, refcon, iterator)

    def add_interest(self, notification: int, callback: InterestCallback, refcon: Any,
                     service: io_object_t) -> None:
        self._interest[notification] = _Interest(callback, refcon, service)

    def forget(self, notification: int) -> None:
        self._matching.pop(notification, None)
        self._interest.pop(notification, None)

    def async_token(self, callback: AsyncCallback, refcon: Any) -> int:
        """The number that stands for ``callback`` and ``refcon`` in an async reference (a
        function pointer and a refcon in C)."""
        token = next(self._tokens)
        self._async[token] = (callback, refcon)
        return token

    def dispatch(self, timeout: float | None = 0.0) -> int:
        """Wait up to ``timeout`` seconds for messages (None: until one comes), then call the
        callback of every message received; returns how many were delivered."""
        queue = self.main_port.queue_for(self.handle)
        if not queue:
            self.main_port.wait(timeout)
        delivered = 0
        while queue:
            if self._deliver(queue.popleft()):
                delivered += 1
        return delivered

    def _deliver(self, note: dict[str, Any]) -> bool:
        kind = note.get("kind")
        if kind == "dropped":
            self.dropped += int(note.get("count", 0))
            return False
        if kind == "matching":
            return self._deliver_matching(note)
        if kind == "interest":
            interest = self._interest.get(note.get("notification", -1))
            if interest is None:
                return False
            interest.callback(interest.refcon, interest.service, int(note["message"]),
                              note.get("argument"))
            return True
        if kind == "async":
            return self._deliver_async(note)
        return False

    def _deliver_matching(self, note: dict[str, Any]) -> bool:
        matching = self._matching.get(note.get("notification", -1))
        if matching is None:
            return False
        port = self.main_port
        matching.iterator.items.extend(io_object_t(h, port) for h in note.get("objects", ()))
        matching.callback(matching.refcon, matching.iterator)
        return True

    def _deliver_async(self, note: dict[str, Any]) -> bool:
        words: list[int] = note.get("reference") or []
        entry = self._async.get(words[1]) if len(words) > 1 else None
        if entry is None:  # a reference without a callout: nothing to call, as in C
            return False
        callback, refcon = entry
        callback(refcon, int(note.get("result", 0)), tuple(note.get("args", ())))
        return True
