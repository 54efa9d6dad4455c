"""A test dext for what crosses besides the lifecycle: ``RemoteDriver`` drives the default
machine's FaceTime camera from a driver process and reports, in its own properties, what it
saw of its provider (a kernel object's proxy), of the matching notifications it installed and
of the ``message`` arguments it got. ``IOKIT_TEST_DEXT_MODE`` picks a fault for a test."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from iokit_sdk import IOService

__all__ = ["RemoteDriver"]

#: Message types the tests send (any 32-bit number a driver defines).
REPORT, READ_KEY, READ_LATER, DIE = 0x1000, 0x1001, 0x1002, 0x1003
#: ``messageClients`` on the driver itself (argument: the message to send), and what an
#: interest handler dies of.
BROADCAST, INTEREST_DIE = 0x1004, 0x1005
#: What the driver tells its interested parties when a RemoteWatched service is matched.
ARRIVED = 0x1006


def _mode() -> str:
    return os.environ.get("IOKIT_TEST_DEXT_MODE", "")


class RemoteDriver(IOService):
    def probe(self, provider: IOService, score: int) -> int | None:
        own = self.get_provider()
        self.set_property("ProbeProvider", own.get_name() if own is not None else None)
        return score

    def start(self, provider: IOService) -> bool:
        self.set_property("DriverPid", os.getpid())
        own = self.get_provider()
        grand = provider.get_provider()
        self.set_property("Provider", {
            "same": own is provider, "name": provider.get_name(),
            "usb": provider.meta_cast("IOUSBHostDevice"),
            "location": provider.get_location() or "",
            "path": provider.get_path() or "",
            "vendor": provider.get_property("idVendor"),
            "has": provider.has_property("idProduct"),
            "keys": sorted(provider.copy_properties())[:5],
            "grand": grand.get_name() if grand is not None else ""})
        if _mode() == "read-kill":
            os.kill(os.getpid(), signal.SIGKILL)
        self.seen: list[str] = []
        self.existing = self.add_matching_notification(
            "publish", {"IOProviderClass": "IOUSBHostDevice"}, self._existing)
        self.watch = self.add_matching_notification(
            "matched", {"IONameMatch": ["RemoteWatched", "RemoteNub", "RemoteDoom", "RemoteDeaf"]},
            self._matched)
        self.gone = self.add_matching_notification(
            "terminated", {"IONameMatch": "RemoteWatched"}, self._terminated)
        self.interest = provider.register_interest(self._provider_said)
        nub = IOService({"RemoteNubKey": "published by the dext"}, name="RemoteNub")
        nub.attach(self)
        nub.register_service()
        self.set_property("NubProvider", nub.get_provider() is self)
        self.register_service()  # programs find it by name
        return True

    def _existing(self, service: IOService) -> None:
        existing = list(self.get_property("Existing") or [])
        self.set_property("Existing", [*existing, [service.get_name(),
                                                   service.get_property("idVendor", 0)]])

    def _matched(self, service: IOService) -> None:
        if service.get_name() == "RemoteDoom":
            os.kill(os.getpid(), signal.SIGKILL)
        if service.get_name() == "RemoteDeaf":  # hangs: reads the kernel's socket no more
            signal.pause()
        self.seen.append(f"matched:{service.get_name()}:{service.get_property('Tag')}")
        self.set_property("Seen", list(self.seen))
        if service.get_name() == "RemoteWatched":  # its own messages too
            self.message_clients(ARRIVED, service.get_name())  # tell the interested
            try:
                self.watched = service.register_interest(self._watched_said)
            except ValueError:  # it terminated before this handler ran
                self.seen.append("interest-refused")

    def _provider_said(self, message_type: int, service: IOService, argument: Any) -> None:
        if message_type == INTEREST_DIE:
            os.kill(os.getpid(), signal.SIGKILL)
        said = list(self.get_property("ProviderSaid") or [])
        shown = argument.get_name() if isinstance(argument, IOService) else argument
        self.set_property("ProviderSaid", [*said, [message_type, service.get_name(),
                                                   "none" if shown is None else shown]])

    def _watched_said(self, message_type: int, service: IOService, argument: Any) -> None:
        self.seen.append(f"said:{service.get_name()}:{message_type:#x}")
        self.set_property("Seen", list(self.seen))

    def _terminated(self, service: IOService) -> None:
        if _mode() == "remove-after-one":  # before it records: a test waits for the record
            self.watch.remove()
        self.seen.append(f"terminated:{service.get_name()}")
        self.set_property("Seen", list(self.seen))

    def message(self, message_type: int, provider: IOService | None,
                argument: Any = None) -> int:
        if message_type == DIE:
            os.kill(os.getpid(), signal.SIGKILL)
        if message_type == READ_KEY:  # the provider's property, read in the kernel now
            value = provider.get_property(argument, "absent") if provider is not None else None
            self.set_property("Read", [argument, value])
        elif message_type == BROADCAST:
            self.message_clients(argument, {"from": "dext"})
        elif message_type == READ_LATER:  # the same read from a thread of the driver's own
            threading.Thread(target=self._read_later, args=(provider,)).start()
        elif isinstance(argument, IOService):
            self.set_property("Message", [message_type, "service", argument.get_name(),
                                          argument.get_property("idVendor")])
        else:
            self.set_property("Message", [message_type, "value",
                                          "none" if argument is None else argument])
        return 0

    def _read_later(self, provider: IOService | None) -> None:
        while provider is not None:  # until killed: a question is always waiting
            provider.get_property("idVendor")
