"""Programs' notifications: matching and interest notifications on notification ports
(IOUserClient.cpp ``IOServiceUserNotification``, ``IOServiceMessageUserNotification``).

``IOServiceAddMatchingNotification`` installs a kernel notifier whose handler queues the new
service for the program's port; ``IOServiceAddInterestNotification`` registers interest in
one service's messages (``registerInterest``): what the service sends with ``messageClients``
(general interest, through the kernel's interest notifiers; ``kIOMessageServiceIsTerminated``
in termination's phase 2), and whatever another part of the kernel posts with
:meth:`UserNotifications.message`.
Everything a port holds goes when the port is destroyed, the notification released or the
program gone; what the program does not read in time is dropped and counted (:mod:`.session`).
A notification a driver makes on a thread of its own (``message_clients``, a service it
registers there, an async completion) reaches the port through the loop (:mod:`.loop_mail`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from iokit_sdk.plain import plain_value
from iokit_sdk.service import IOService
from iokit_sdk.values import PropertyTypeError
from iokit_sdk.wirecodec import fit_integers

from iokit_host.server.loop_mail import LoopMail
from iokit_host.server.session import Session

if TYPE_CHECKING:
    from collections.abc import Mapping

    from iokit_host.kernel.interest import InterestNotifier
    from iokit_host.kernel.notifications import Notifier
    from iokit_host.kernel.workloop import IOKernel
    from iokit_host.server.iterators import ServiceIterator

__all__ = ["INTEREST_TYPES", "MATCHING_TYPES", "InterestNotification", "MatchingNotification",
           "NotificationPort", "UserNotifications"]

#: IOKit's notification type names -> the kernel's notifier kinds.
MATCHING_TYPES = {"IOServicePublish": "publish", "IOServiceFirstPublish": "first_publish",
                  "IOServiceMatched": "matched", "IOServiceFirstMatch": "first_match",
                  "IOServiceTerminate": "terminated"}
INTEREST_TYPES = frozenset({"IOGeneralInterest", "IOBusyInterest", "IOAppPowerStateInterest",
                            "IOPriorityPowerStateInterest"})


@dataclass(eq=False)
class NotificationPort:
    """A program's notification port (``IONotificationPortCreate``)."""

    session: Session
    handle: int = 0
    #: Its notifications, in order (a dict as an ordered set: a port of thousands loses each
    #: one in constant time, not by a search).
    records: dict[MatchingNotification | InterestNotification, None] = field(
        default_factory=dict)
    destroyed: bool = False

    def send(self, note: dict[str, Any]) -> bool:
        """Queue ``note`` for the program; False when dropped or the port is gone."""
        if self.destroyed:
            return False
        return self.session.notify(self.handle, note)

    def dropped(self, count: int) -> None:
        """Count ``count`` notifications that never reached the queue (the program is told)."""
        if not self.destroyed and not self.session.gone:
            self.session.outbox.drop(self.handle, count)


@dataclass(eq=False)
class MatchingNotification:
    port: NotificationPort
    kind: str
    notifier: Notifier | None = None
    handle: int = 0
    #: The services that qualified when it was installed, not yet taken by the program
    #: (``iterator_next`` on its handle, as IOKit's notification is its own iterator).
    existing: ServiceIterator | None = None


@dataclass(eq=False)
class InterestNotification:
    port: NotificationPort
    service: IOService
    interest: str
    service_handle: int
    handle: int = 0
    #: The kernel's interest notifier feeding it ``messageClients`` (general interest).
    notifier: InterestNotifier | None = None


class UserNotifications:
    """Every notification programs installed on one kernel."""

    def __init__(self, kernel: IOKernel) -> None:
        self.kernel = kernel
        self._interest: dict[int, dict[InterestNotification, None]] = {}
        #: What drivers' own threads send, on its way to the loop.
        self.mail = LoopMail()

    def send(self, port: NotificationPort, note: dict[str, Any]) -> bool:
        """Queue ``note`` on ``port``, from any thread: on the loop's at once, from another
        through :attr:`mail` (the outboxes are the loop's). False when dropped, or when the
        port is gone now."""
        if self.mail.on_loop():
            return port.send(note)
        if port.destroyed or port.session.gone:
            return False
        return self.mail.post(partial(port.send, note), port)

    # -- matching --------------------------------------------------------------------------
    def add_matching(self, port: NotificationPort, kind: str,
                     matching: Mapping[str, Any]) -> tuple[MatchingNotification, list[IOService]]:
        """Install a notifier; returns it and the services that qualify already."""
        record = MatchingNotification(port, kind)
        existing: list[IOService] = []
        installing = True

        def handler(service: IOService) -> None:
            if installing:
                existing.append(service)
            elif self.mail.on_loop():
                self._deliver(record, service)
            else:  # registered on a driver's thread: the handle is made on the loop
                self.mail.post(partial(self._deliver, record, service), port)

        kernel = self.kernel
        record.notifier = kernel.notifications.install(kind, matching, handler,
                                                       existing=kernel.services())
        installing = False
        port.records[record] = None
        return record, existing

    def _deliver(self, record: MatchingNotification, service: IOService) -> None:
        port = record.port
        session = port.session
        if port.destroyed or session.gone:
            return
        if not session.outbox.has_room():
            session.outbox.drop(port.handle)
            return
        handle = session.handles.add(service)
        if handle is None:
            session.outbox.drop(port.handle)
            return
        port.send({"kind": "matching", "notification": record.handle, "objects": [handle]})

    # -- interest --------------------------------------------------------------------------
    def add_interest(self, port: NotificationPort, service: IOService, interest: str,
                     service_handle: int) -> InterestNotification:
        record = InterestNotification(port, service, interest, service_handle)
        self._interest.setdefault(id(service), {})[record] = None
        port.records[record] = None
        if interest == "IOGeneralInterest":  # the service's messageClients reach the program
            record.notifier = self.kernel.interest.install(
                service, lambda message_type, _service, argument: self._relay(
                    record, message_type, argument))
        return record

    def _relay(self, record: InterestNotification, message_type: int, argument: Any) -> None:
        """A message the service sent its clients and interested parties, termination's
        ``kIOMessageServiceIsTerminated`` among them: in phase 2, after every client's
        ``willTerminate``, as ``terminateWorker`` sends it. An argument that is not a
        registry value (a service, an object) reaches the program as None. A value is sent
        as the registry keeps one (built-in types, a number past 64 bits cut to an OSNumber's):
        packed as the driver made it, an ``int`` subclass's ``__int__`` (its code) ran in the
        kernel's handler and a number past 64 bits did not encode, and the program lost the
        message."""
        try:
            argument = fit_integers(plain_value(argument, "argument"))
        except PropertyTypeError:
            argument = None
        self.send(record.port, {"kind": "interest", "notification": record.handle,
                                "service": record.service_handle, "message": message_type,
                                "argument": argument})

    def message(self, service: IOService, message_type: int, argument: Any = None,
                interest: str = "IOGeneralInterest") -> int:
        """Post ``message_type`` to the programs interested in ``service``, from any thread;
        returns how many were told (from a driver's thread: how many it was queued for)."""
        told = 0
        for record in list(self._interest.get(id(service), ())):
            if record.interest == interest and self.send(record.port, {
                    "kind": "interest", "notification": record.handle,
                    "service": record.service_handle, "message": message_type,
                    "argument": argument}):
                told += 1
        return told

    # -- removal ---------------------------------------------------------------------------
    def remove(self, record: MatchingNotification | InterestNotification) -> None:
        if isinstance(record, MatchingNotification):
            if record.notifier is not None:
                record.notifier.remove()
                record.notifier = None
            if record.existing is not None:
                record.existing.free()
        else:
            if record.notifier is not None:
                record.notifier.remove()
                record.notifier = None
            records = self._interest.get(id(record.service))
            if records is not None:
                records.pop(record, None)
                if not records:
                    self._interest.pop(id(record.service), None)
        record.port.records.pop(record, None)

    def remove_port(self, port: NotificationPort) -> None:
        port.destroyed = True
        for record in list(port.records):
            self.remove(record)
