"""Notifications a driver process installs: ``IOServiceNotificationDispatchSource``, interest.

A dext asks the kernel for notifications with ``IOServiceNotificationDispatchSource::Create``
(a matching dictionary and a type); the kernel installs an ``IONotifier`` and queues what it
delivers for the dext's dispatch queue, so matching never waits on the dext. Here
:class:`ProcessNotifiers` installs a kernel notifier (:mod:`iokit_host.kernel.notifications`)
for each request, and its handler sends the service to the process as a one-way ``note``
(the service as a kernel object spec, :mod:`.kobjects`); services that qualify already are
sent before the install is answered. Interest in a service (``registerInterest``) is an
interest notifier (:mod:`iokit_host.kernel.interest`) whose messages are sent the same way,
with the argument as ``message``'s crosses. A process's notifiers go when it dies or stops; a
request that does not read is refused with the reason (the driver's call raises).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iokit_sdk.keys import SERVICE_PLANE
from iokit_sdk.service import IOService
from iokit_sdk.values import PropertyTypeError, check_value

from iokit_host.dext.channel import ChannelClosed
from iokit_host.dext.kobjects import KernelObjects
from iokit_host.errors import Diagnostic, Severity, quoted
from iokit_host.kernel.notifications import NOTIFICATION_TYPES
from iokit_host.settings import env_seconds

if TYPE_CHECKING:
    from iokit_host.dext.process import DriverProcess
    from iokit_host.kernel.interest import InterestNotifier
    from iokit_host.kernel.notifications import Notifier
    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["MAX_NOTIFIERS", "ProcessNotifiers"]

#: Notifications one driver process may hold at a time (each is a kernel notifier).
MAX_NOTIFIERS = 256
_PRIORITY = range(-(1 << 31), 1 << 31)
_TIMEVAL = struct.Struct("@ll")
#: How an interest message's argument crosses (``Upcalls.message_argument``).
Encode = Callable[[Any], Any]


@dataclass(eq=False)
class _Installed:
    """A notifier a driver process installed, and what it watches."""

    process: DriverProcess
    notifier: Notifier | InterestNotifier | None = None
    #: An interest notifier's service: once it is terminated and detached (or freed), the
    #: notifier can hear nothing more and no longer counts against the process's limit.
    target: weakref.ref[IOService] | None = None

    def spent(self) -> bool:
        if self.target is None:
            return False
        service = self.target()
        return service is None or service.is_inactive() and service.get_provider() is None


class ProcessNotifiers:
    """The notifiers every driver process of one kernel installed, by server record name."""

    def __init__(self, kernel: WorkLoop) -> None:
        self.kernel = kernel
        self._by_server: dict[str, dict[int, _Installed]] = {}
        try:  # the call deadline (a bad value is reported by the manager)
            limit = env_seconds("IOKIT_DEXT_CALL_TIMEOUT", 10.0)
        except ValueError:
            limit = 10.0
        #: How long one notification may wait for the process to read (0: no bound).
        self.send_limit_s = limit

    def add(self, name: str, process: DriverProcess, objects: KernelObjects,
            request: Mapping[str, Any]) -> dict[str, Any]:
        """Install the notification ``request`` asks for; ``{}`` or ``{"refused": why}``."""
        number, kind = request.get("id"), request.get("type")
        matching, priority = request.get("matching"), request.get("priority", 0)
        mine = self._pruned(name)
        for held in [n for n, i in mine.items() if i.process is not process]:
            self._remove(mine, held)  # a previous process's, under the same record
        if type(number) is not int or number in mine:
            return {"refused": f"notification id {quoted(number)} is not a new number"}
        if not isinstance(kind, str) or kind not in NOTIFICATION_TYPES:
            return {"refused": f"unknown notification type {quoted(kind)}"}
        if type(priority) is not int or priority not in _PRIORITY:
            return {"refused": f"priority {quoted(priority)} is not a 32-bit number"}
        if not isinstance(matching, dict):
            return {"refused": "the matching dictionary is not a dictionary"}
        try:
            check_value(matching, "matching")
        except PropertyTypeError as error:
            return {"refused": f"the matching dictionary does not read: {error}"}
        if len(mine) >= MAX_NOTIFIERS:
            return {"refused": f"the process holds {MAX_NOTIFIERS} notifications already"}
        installed = mine[number] = _Installed(process)

        def handler(service: IOService) -> None:
            self._send(name, number, installed, objects, kind, service)

        installed.notifier = self.kernel.notifications.install(
            kind, matching, handler, priority=priority, existing=[
                e for _, e in self.kernel.registry.walk(SERVICE_PLANE)
                if isinstance(e, IOService)])
        return {}

    def add_interest(self, name: str, process: DriverProcess, number: Any,
                     target: IOService, encode: Encode) -> dict[str, Any]:
        """Interest in ``target``'s messages (``registerInterest``); ``{}`` or refused."""
        mine = self._pruned(name)
        if type(number) is not int or number in mine:
            return {"refused": f"notification id {quoted(number)} is not a new number"}
        if len(mine) >= MAX_NOTIFIERS:
            return {"refused": f"the process holds {MAX_NOTIFIERS} notifications already"}
        installed = mine[number] = _Installed(process, target=weakref.ref(target))

        def handler(message_type: int, service: IOService, argument: Any) -> None:
            self._post(name, number, installed, {
                "op": "note", "id": number, "kind": "interest", "message": message_type,
                "argument": encode(argument)})

        installed.notifier = self.kernel.interest.install(target, handler)
        return {}

    def remove(self, name: str, number: Any) -> None:
        mine = self._by_server.get(name, {})
        if type(number) is int and number in mine:
            self._remove(mine, number)

    def gone(self, name: str) -> None:
        """The process of record ``name`` died or stopped: its notifiers go."""
        mine = self._by_server.pop(name, {})
        for number in list(mine):
            self._remove(mine, number)

    def held(self, name: str) -> int:
        return len(self._pruned(name))

    def _pruned(self, name: str) -> dict[int, _Installed]:
        """Record ``name``'s notifiers, less interest in services that are gone."""
        mine = self._by_server.setdefault(name, {})
        for number in [n for n, i in mine.items() if i.spent()]:
            self._remove(mine, number)
        return mine

    def _send(self, name: str, number: int, installed: _Installed, objects: KernelObjects,
              kind: str, service: IOService) -> None:
        if installed.process.alive:
            self._post(name, number, installed, {
                "op": "note", "id": number, "kind": kind,
                "service": objects.spec(self.kernel.registry, service)})
        else:
            self.remove(name, number)

    def _post(self, name: str, number: int, installed: _Installed,
              note: dict[str, Any]) -> None:
        process = installed.process
        channel = process.channel
        if not process.alive or channel is None:
            self.remove(name, number)  # the process is gone: nothing more is queued for it
            return
        # A process that stops reading (hung in a handler) must not hang the kernel once its
        # socket's buffer is full: the send waits at most the call deadline, then the process
        # is killed, and the kernel's watch counts the crash as for a call that hung.
        sock = channel.sock
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(self.send_limit_s))
            channel.send(note)
        except (ChannelClosed, OSError):
            if process.alive and process.pid is not None:
                self.kernel.report(Diagnostic(
                    "dext-notification-unread", f"driver process {name} (pid {process.pid}) "
                    f"read no notification for {self.send_limit_s:g} s and was killed",
                    severity=Severity.WARNING, hint="a handler that never returns stops its "
                    "process reading; the kernel counts it as a crash and relaunches it"))
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
            self.remove(name, number)
        finally:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(0.0))

    @staticmethod
    def _remove(mine: dict[int, _Installed], number: int) -> None:
        installed = mine.pop(number)
        if installed.notifier is not None:
            installed.notifier.remove()
            installed.notifier = None


def _timeval(seconds: float) -> bytes:
    """``SO_SNDTIMEO``'s value; 0 is no bound."""
    return _TIMEVAL.pack(int(seconds), int((seconds % 1) * 1e6))
