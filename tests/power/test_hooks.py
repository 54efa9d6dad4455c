"""The power hooks: the built-in plugin forwards them to the driver; a host plugin sees them all."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from iokit_sdk import IOService, hookimpl
from iokit_sdk.messages import kIOMessageSystemWillSleep
from powerkit import Watcher, add_device, power_host


class _Tracer:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []

    @hookimpl(wrapper=True)
    def iokit_set_power_state(self, service: IOService, ordinal: int,
                              device: IOService) -> Generator[None, Any, Any]:
        result = yield
        self.seen.append(("set_power_state", service.get_name(), (ordinal, result)))
        return result

    @hookimpl(wrapper=True)
    def iokit_power_state_will_change_to(self, service: IOService, capabilities: int,
                                         ordinal: int,
                                         device: IOService) -> Generator[None, Any, Any]:
        self.seen.append(("will", service.get_name(), ordinal))
        return (yield)

    @hookimpl(wrapper=True)
    def iokit_power_state_did_change_to(self, service: IOService, capabilities: int,
                                        ordinal: int,
                                        device: IOService) -> Generator[None, Any, Any]:
        self.seen.append(("did", service.get_name(), ordinal))
        return (yield)

    @hookimpl(wrapper=True)
    def iokit_message(self, service: IOService, message_type: int, provider: IOService | None,
                      argument: Any) -> Generator[None, Any, Any]:
        self.seen.append(("message", service.get_name(), message_type))
        return (yield)


def test_a_host_plugin_wraps_every_power_call_the_built_in_one_forwards() -> None:
    tracer = _Tracer()
    host = power_host(plugins=[tracer])
    device = add_device(host, None, "W", cls=Watcher)
    device.register_priority_sleep_wake_interest()
    tracer.seen.clear()
    host.sleep()
    assert tracer.seen == [("message", "W", kIOMessageSystemWillSleep), ("will", "W", 0),
                           ("set_power_state", "W", (0, 0)), ("did", "W", 0),
                           ("set_power_state", "IOPMrootDomain", (2, 0))]
