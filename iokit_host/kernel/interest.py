"""Interest notifications: handlers told of one service's messages (``registerInterest``).

IOKit's ``registerInterest(gIOGeneralInterest, handler, ...)`` adds a notifier to a service's
interest list; ``messageClients(type, argument)`` sends the message to each of the service's
clients and to each such notifier (``applyToInterested``), as termination does with
``kIOMessageServiceIsTerminated``. Here :class:`Interest` keeps the notifiers per service
(weakly: a freed service takes its list with it) and :meth:`Interest.deliver` calls each
handler with ``(message_type, service, argument)``; the kernel guards each call as a driver
call, so one that raises or hangs is reported and the others are still told.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from iokit_sdk.service import IOService

from iokit_host.kernel.notifier_quota import NotifierQuota

__all__ = ["Interest", "InterestHandler", "InterestNotifier"]

#: ``handler(message_type, service, argument)``; what it returns is not read.
InterestHandler = Callable[[int, IOService, Any], object]


@dataclass(eq=False, slots=True)
class InterestNotifier:
    """One installed interest notifier; :meth:`remove` uninstalls it."""

    handler: InterestHandler
    _owner: Interest | None = field(default=None, repr=False)
    _service: weakref.ref[IOService] | None = field(default=None, repr=False)
    #: The kext whose quota it counts against (None: the host's own).
    kext: str | None = None

    def remove(self) -> None:
        service = self._service() if self._service is not None else None
        if self._owner is not None and service is not None:
            self._owner._remove(service, self)
        self._owner = None


#: Calls one handler: the kernel passes one that guards it as a driver call.
Deliver = Callable[[InterestNotifier, int, IOService, Any], None]


class Interest:
    """The interest notifiers of one kernel, per service, in install order."""

    def __init__(self, deliver: Deliver | None = None,
                 quota: NotifierQuota | None = None) -> None:
        self._deliver = deliver or _call_handler
        self.quota = quota or NotifierQuota()
        self._by_service: weakref.WeakKeyDictionary[IOService, list[InterestNotifier]] = \
            weakref.WeakKeyDictionary()

    def install(self, service: IOService, handler: InterestHandler, *,
                kext: str | None = None) -> InterestNotifier:
        """Add a notifier to ``service``'s list; ``kext``'s quota counts it.

        :raises NotificationLimit: that kext holds its quota of notifiers already.
        """
        if kext is not None:
            self.quota.take(kext, "interest notification")
        notifier = InterestNotifier(handler, self, weakref.ref(service), kext)
        notifiers = self._by_service.get(service)
        if notifiers is None:
            notifiers = self._by_service[service] = []
            # A freed service takes its notifiers along, unremoved: their places come back.
            weakref.finalize(service, _give_back, self.quota, notifiers)
        notifiers.append(notifier)
        return notifier

    def deliver(self, service: IOService, message_type: int, argument: Any = None) -> int:
        """Tell every notifier of ``service``; returns how many were told."""
        notifiers = self._by_service.get(service)
        told = 0
        for notifier in list(notifiers or ()):
            if notifier._owner is not None:
                self._deliver(notifier, message_type, service, argument)
                told += 1
        return told

    def count(self, service: IOService) -> int:
        return len(self._by_service.get(service, ()))

    def _remove(self, service: IOService, notifier: InterestNotifier) -> None:
        notifiers = self._by_service.get(service)
        if notifiers is not None and notifier in notifiers:
            notifiers.remove(notifier)
            if notifier.kext is not None:
                self.quota.give(notifier.kext)
            if not notifiers:
                del self._by_service[service]


def _call_handler(notifier: InterestNotifier, message_type: int, service: IOService,
                  argument: Any) -> None:
    notifier.handler(message_type, service, argument)


def _give_back(quota: NotifierQuota, notifiers: list[InterestNotifier]) -> None:
    for notifier in notifiers:
        if notifier.kext is not None:
            quota.give(notifier.kext)
