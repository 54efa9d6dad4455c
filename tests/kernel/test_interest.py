"""Interest notifications (``registerInterest``) and ``messageClients``: a service's messages
reach its clients and its interested handlers, in-process, with termination's among them."""

from __future__ import annotations

from typing import Any

from hostkit import driven_watchdog, make_host, wifi_nub
from iokit_sdk import IOService
from iokit_sdk.messages import kIOMessageServiceIsTerminated


class _Listener(IOService):
    """A client that records the messages its provider sends."""

    def message(self, message_type: int, provider: IOService | None, argument: Any = None) -> int:
        self.heard = [*getattr(self, "heard", []), (message_type, argument)]
        return 0


def test_message_clients_tells_clients_then_the_interested_with_the_argument() -> None:
    host = make_host([wifi_nub()], []).boot()
    device = host.find("pci14e4,4331")
    client = _Listener(name="listener")
    host.plug(client, device)
    heard: list[tuple[int, str, Any]] = []
    notifier = device.register_interest(lambda t, s, a: heard.append((t, s.get_name(), a)))
    device.message_clients(0x42, {"why": "test"})
    assert client.heard == [(0x42, {"why": "test"})]
    assert heard == [(0x42, "pci14e4,4331", {"why": "test"})]
    notifier.remove()
    notifier.remove()  # twice is harmless
    device.message_clients(0x43)
    assert len(heard) == 1 and host.kernel.interest.count(device) == 0


def test_an_interested_handler_hears_its_service_terminate() -> None:
    host = make_host([wifi_nub()], []).boot()
    heard: list[int] = []
    host.find("pci14e4,4331").register_interest(lambda t, s, a: heard.append(t))
    host.unplug("pci14e4,4331")
    assert heard == [kIOMessageServiceIsTerminated]


def test_a_raising_handler_is_reported_and_the_others_are_told() -> None:
    host = make_host([wifi_nub()], []).boot()
    device = host.find("pci14e4,4331")
    heard: list[int] = []

    def broken(message_type: int, service: IOService, argument: Any) -> None:
        raise RuntimeError("listener broke")

    device.register_interest(broken)
    device.register_interest(lambda t, s, a: heard.append(t))
    device.message_clients(0x44)
    assert heard == [0x44]
    assert [d.reference for d in host.diagnostics] == ["notification-handler-raised"]
    assert "listener broke" in host.diagnostics[0].message


def test_a_handler_that_hangs_is_abandoned_once_and_no_longer_told() -> None:
    """Every later message would cost the limit again: the hung handler's notifier goes, as
    a dext that hangs is killed, and the other handlers are still told."""
    host = make_host([wifi_nub()], []).boot()
    clock = driven_watchdog(host)
    device = host.find("pci14e4,4331")
    hung: list[int] = []
    heard: list[int] = []

    def hangs(message_type: int, service: IOService, argument: Any) -> None:
        hung.append(message_type)
        while True:
            clock.advance(0.01)

    device.register_interest(hangs)
    device.register_interest(lambda t, s, a: heard.append(t))
    device.message_clients(0x44)
    device.message_clients(0x45)
    assert hung == [0x44] and heard == [0x44, 0x45]
    (timeout,) = host.diagnostics
    assert timeout.reference == "driver-call-timeout"
    assert "its notifier was removed" in (timeout.hint or "")
