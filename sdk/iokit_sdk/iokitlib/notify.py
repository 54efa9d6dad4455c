"""Notification ports: where matching, interest and async-completion messages arrive
(``IONotificationPortCreate``, ``IODispatchCalloutFromMessage``).

A program creates a port, installs notifications on it and runs its run loop, which calls the
program's callbacks as messages arrive. There is no CFRunLoop here: :meth:`dispatch`
(``IONotificationPortDispatch``) is the run loop's turn: it waits for messages up to a timeout
and calls the callback of each. The kernel bounds what it queues for a process that does not
read; what overflowed is dropped and counted in :attr:`IONotificationPort.dropped`, as Mach
drops messages to a full port. A message whose fields make no sense (a kernel gone wrong) is
skipped and counted in :attr:`IONotificationPort.garbled`, as MIG's demultiplexer refuses a
malformed message; the messages after it are delivered, and a callback is only ever called
with fields of the types it is documented to take.
"""

from __future__ import annotations

import functools
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
        #: Messages skipped because their fields made no sense.
        self.garbled = 0
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
        """Call ``note``'s callback; False when there is none to call. Its fields are read
        before the callback runs, so what the callback raises is the program's own."""
        try:
            callout = self._callout(note)
        except (KeyError, TypeError, ValueError, IndexError, OverflowError):
            self.garbled += 1
            return False
        if callout is None:
            return False
        callout()
        return True

    def _callout(self, note: dict[str, Any]) -> Callable[[], object] | None:
        kind = note.get("kind")
        if kind == "dropped":
            self.dropped += _count(note.get("count", 0))
            return None
        if kind == "matching":
            return self._matching_callout(note)
        if kind == "interest":
            interest = self._interest.get(_count(note.get("notification", -1)))
            if interest is None:
                return None
            return functools.partial(interest.callback, interest.refcon, interest.service,
                                     _count(note["message"]), note.get("argument"))
        if kind == "async":
            return self._async_callout(note)
        return None

    def _matching_callout(self, note: dict[str, Any]) -> Callable[[], object] | None:
        matching = self._matching.get(_count(note.get("notification", -1)))
        if matching is None:
            return None
        port = self.main_port
        objects = [io_object_t(_count(h), port) for h in _items(note.get("objects", []))]
        matching.iterator.items.extend(objects)
        return functools.partial(matching.callback, matching.refcon, matching.iterator)

    def _async_callout(self, note: dict[str, Any]) -> Callable[[], object] | None:
        words = _items(note.get("reference") or [])
        entry = self._async.get(_count(words[1])) if len(words) > 1 else None
        if entry is None:  # a reference without a callout: nothing to call, as in C
            return None
        callback, refcon = entry
        args = tuple(_count(value) for value in _items(note.get("args", [])))
        return functools.partial(callback, refcon, _count(note.get("result", 0)), args)


def _count(value: object) -> int:
    """An integer field of a message.

    :raises TypeError: it is not one.
    """
    if type(value) is int:
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{type(value).__name__} is not an integer")
    return int(value)  # an OSNumber (extension type 1): its value


def _items(value: object) -> list[Any]:
    """An array field of a message.

    :raises TypeError: it is not one.
    """
    if type(value) is not list:
        raise TypeError(f"{type(value).__name__} is not an array")
    return value
