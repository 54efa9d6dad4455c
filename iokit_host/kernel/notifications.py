"""Matching notifications: handlers told when services are published, matched or terminated.

IOKit keeps notifiers per type (``IOServicePublish``, ``IOServiceFirstPublish``,
``IOServiceMatched``, ``IOServiceFirstMatch``, ``IOServiceTerminate``) in sets ordered by
priority, higher first and FIFO among equals; each has a matching dictionary tested with
passive matching against the service. Installing one delivers the services that already
qualify (``addMatchingNotification``). Here the kernel fires the ``iokit_publish`` ...
``iokit_terminated`` hooks at IOKit's points and the built-in plugin hands each to
:meth:`Notifications.deliver`.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iokit_sdk.plain import plain_value
from iokit_sdk.service import IOService, ServiceState

from iokit_host.kernel.driver_results import plain_int
from iokit_host.matching.passive import match_passive

__all__ = ["NOTIFICATION_TYPES", "Notifications", "Notifier"]

#: notification type -> the state bit a service must have to be delivered at install time
#: (0: none are delivered; terminated notifications are never replayed).
NOTIFICATION_TYPES: Mapping[str, int] = {
    "publish": ServiceState.REGISTERED,
    "first_publish": ServiceState.FIRST_PUBLISH,
    "matched": ServiceState.MATCHED,
    "first_match": ServiceState.FIRST_MATCH,
    "terminated": 0,
}

Handler = Callable[[IOService], None]
#: How a notifier's handler is called: the kernel passes one that guards it as a driver call.
Deliver = Callable[["Notifier", IOService], None]


@dataclass(eq=False, slots=True)
class Notifier:
    """One installed notifier; :meth:`remove` uninstalls it."""

    kind: str
    matching: Mapping[str, Any]
    handler: Handler
    priority: int
    seq: int
    _owner: Notifications | None = field(default=None, repr=False)

    def remove(self) -> None:
        if self._owner is not None:
            self._owner._remove(self)
            self._owner = None


class Notifications:
    """The notifiers of one host, per type, ordered by priority (higher first, FIFO).

    :param deliver: calls one handler; the kernel's reports a handler that raises or hangs
        and goes on with the others. None calls it bare.
    """

    def __init__(self, deliver: Deliver | None = None) -> None:
        self._deliver = deliver or _call_handler
        self._by_kind: dict[str, list[Notifier]] = {kind: [] for kind in NOTIFICATION_TYPES}
        self._seq = itertools.count()

    def install(self, kind: str, matching: Mapping[str, Any], handler: Handler, *,
                priority: int = 0, existing: Iterable[IOService] = ()) -> Notifier:
        """Install a notifier and deliver the qualifying ``existing`` services to it."""
        # Kept as built-in values: every later matching pass reads them, and a driver's
        # value there (a str subclass's __hash__) would run in each of them.
        kind = str.__str__(kind) if isinstance(kind, str) else kind
        if kind not in NOTIFICATION_TYPES:
            raise ValueError(f"unknown notification type {kind!r}; "
                             f"one of {', '.join(NOTIFICATION_TYPES)}")
        order = plain_int(priority)
        if order is None:
            raise TypeError(f"a notification priority is an integer, not "
                            f"{type(priority).__name__}")
        notifier = Notifier(kind, plain_value(dict(matching), "matching"), handler, order,
                            next(self._seq), self)
        # Kept ordered as installed: a binary search, not a sort of every notifier per install
        # (a client adding thousands of notifications would pay for each one again).
        bisect.insort(self._by_kind[kind], notifier, key=_order)
        bit = NOTIFICATION_TYPES[kind]
        for service in list(existing) if bit else ():
            if notifier._owner is None:
                break
            if service.get_state() & bit and not service.is_inactive():
                self._deliver_one(notifier, service)
        return notifier

    def deliver(self, kind: str, service: IOService) -> None:
        """Call every notifier of ``kind`` whose matching dictionary matches ``service``."""
        notifiers = self._by_kind[kind]
        if not notifiers:
            return
        for notifier in list(notifiers):
            if notifier._owner is not None:
                self._deliver_one(notifier, service)

    def installed(self, kind: str) -> bool:
        """True when a notifier of ``kind`` is installed."""
        return bool(self._by_kind[kind])

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_kind.values())

    def _deliver_one(self, notifier: Notifier, service: IOService) -> None:
        if match_passive(notifier.matching, service).matched:
            self._deliver(notifier, service)

    def _remove(self, notifier: Notifier) -> None:
        ordered = self._by_kind[notifier.kind]
        if notifier in ordered:
            ordered.remove(notifier)


def _call_handler(notifier: Notifier, service: IOService) -> None:
    notifier.handler(service)


def _order(notifier: Notifier) -> tuple[int, int]:
    """Where a notifier goes: higher priority first, FIFO among equals (IOKit's ordered set)."""
    return -notifier.priority, notifier.seq
