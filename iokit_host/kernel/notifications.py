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
import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iokit_sdk.keys import PROVIDER_CLASS
from iokit_sdk.plain import plain_value
from iokit_sdk.service import IOService, ServiceState

from iokit_host.kernel.driver_results import plain_int
from iokit_host.kernel.notifier_quota import NotifierQuota
from iokit_host.matching.passive import MatchPlan, compile_plan, match_passive

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
    #: The kext whose quota it counts against (None: the host's own).
    kext: str | None = None
    #: ``matching`` compiled (:func:`compile_plan`) once: each publication tests it against
    #: the new service, and compiling a client's 200,000-key IOPropertyMatch again for each
    #: cost the whole kernel milliseconds per notifier per service.
    plan: MatchPlan | None = field(default=None, repr=False)

    def remove(self) -> None:
        if self._owner is not None:
            self._owner._remove(self)
            self._owner = None


class Notifications:
    """The notifiers of one host, per type, ordered by priority (higher first, FIFO).

    :param deliver: calls one handler; the kernel's reports a handler that raises or hangs
        and goes on with the others. None calls it bare.
    :param quota: what each kext may hold (:mod:`.notifier_quota`), shared with interest.
    """

    def __init__(self, deliver: Deliver | None = None,
                 quota: NotifierQuota | None = None) -> None:
        self._deliver = deliver or _call_handler
        self.quota = quota or NotifierQuota()
        self._by_kind: dict[str, list[Notifier]] = {kind: [] for kind in NOTIFICATION_TYPES}
        # The same notifiers by their IOProviderClass (None: none, or not a string), each
        # list in delivery order: a delivery reads only the classes the service is one of.
        self._by_class: dict[str, dict[str | None, list[Notifier]]] = {
            kind: {} for kind in NOTIFICATION_TYPES}
        self._seq = itertools.count()

    def install(self, kind: str, matching: Mapping[str, Any], handler: Handler, *,
                priority: int = 0, existing: Iterable[IOService] = (),
                kext: str | None = None) -> Notifier:
        """Install a notifier and deliver the qualifying ``existing`` services to it.

        :param kext: the kext installing it, whose quota it counts against.
        :raises NotificationLimit: that kext holds its quota of notifiers already.
        """
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
        table = plain_value(dict(matching), "matching")
        if kext is not None:
            self.quota.take(kext, f"{kind} notification")
        notifier = Notifier(kind, table, handler, order, next(self._seq), self, kext,
                            compile_plan(table))
        # Kept ordered as installed: a binary search, not a sort of every notifier per install
        # (a client adding thousands of notifications would pay for each one again).
        bisect.insort(self._by_kind[kind], notifier, key=_order)
        bisect.insort(self._by_class[kind].setdefault(_provider_class(table), []), notifier,
                      key=_order)
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
        if len(notifiers) > _NARROWED:
            notifiers = self._candidates(kind, service)
        for notifier in list(notifiers):
            if notifier._owner is not None:
                self._deliver_one(notifier, service)

    def _candidates(self, kind: str, service: IOService) -> list[Notifier]:
        """The notifiers of ``kind`` whose IOProviderClass ``service`` is one of (or that name
        none), in delivery order: one class test per class named, not a match per notifier."""
        lists = [notifiers for name, notifiers in self._by_class[kind].items()
                 if name is None or service.meta_cast(name)]
        if len(lists) == 1:
            return lists[0]
        return list(heapq.merge(*lists, key=_order))

    def installed(self, kind: str) -> bool:
        """True when a notifier of ``kind`` is installed."""
        return bool(self._by_kind[kind])

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_kind.values())

    def _deliver_one(self, notifier: Notifier, service: IOService) -> None:
        if match_passive(notifier.matching, service, plan=notifier.plan).matched:
            self._deliver(notifier, service)

    def _remove(self, notifier: Notifier) -> None:
        ordered = self._by_kind[notifier.kind]
        if notifier in ordered:
            ordered.remove(notifier)
            by_class = self._by_class[notifier.kind]
            name = _provider_class(notifier.matching)
            by_class[name].remove(notifier)
            if not by_class[name]:
                del by_class[name]
            if notifier.kext is not None:
                self.quota.give(notifier.kext)


#: Up to this many notifiers of a kind, a delivery tries each (cheaper than narrowing).
_NARROWED = 8


def _provider_class(matching: Mapping[str, Any]) -> str | None:
    wanted = matching.get(PROVIDER_CLASS)
    return wanted if isinstance(wanted, str) else None


def _call_handler(notifier: Notifier, service: IOService) -> None:
    notifier.handler(service)


def _order(notifier: Notifier) -> tuple[int, int]:
    """Where a notifier goes: higher priority first, FIFO among equals (IOKit's ordered set)."""
    return -notifier.priority, notifier.seq
