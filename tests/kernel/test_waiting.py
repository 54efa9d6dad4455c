"""Waiting: resources gate starts in an inspectable queue; wait_for_matching_service on the clock."""

from __future__ import annotations

from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService
from iokit_sdk.keys import SERVICE_PLANE

from iokit_host.machine.model import NubSpec


class _NeedsRadio(IOService):
    pass


class _RadioPublisher(IOService):
    def start(self, provider: IOService) -> bool:
        self.publish_resource("Radio")
        return True


def _host(*bundles_extra: object):  # type: ignore[no-untyped-def]
    bundle = kext("com.test.radio", {
        "needs": personality("_NeedsRadio", score=5000, IOResourceMatch="Radio"),
        "fallback": personality("Fallback", score=100),  # a codeless stand-in, queued behind
        "on-resources": personality("IOService", provider="IOResources",
                                    IOResourceMatch="Radio", IOMatchCategory="RadioUser"),
    })
    return make_host([wifi_nub()], [bundle, *bundles_extra],
                     {"com.test.radio": [_NeedsRadio, _RadioPublisher]})


def test_unpublished_resource_waits_with_a_reason_and_starts_when_published() -> None:
    host = _host().boot()
    kinds = sorted((w.kind, w.reason) for w in host.waiting)
    assert kinds == [
        ("resource-match", "resource 'Radio' is not published"),
        ("start", "waiting for resource 'Radio' to be published"),
    ]
    nub = host.find("pci14e4,4331")
    assert host.drivers_of(nub) == []  # the fallback waits behind the best candidate
    assert nub.get_busy_state() == 1  # a parked start keeps its nub busy, as IOKit blocks
    assert host.explain(nub).outcome_of("_NeedsRadio").outcome == "waiting"
    assert host.explain(nub).outcome_of("Fallback").outcome == "waiting"
    host.publish_resource("Radio")
    assert [d.iokit_class_name for d in host.drivers_of(nub)] == ["_NeedsRadio"]
    assert host.waiting == ()
    assert nub.get_busy_state() == 0
    resources = host.kernel.resources
    assert [c.get_property("IOMatchCategory") for c in host.drivers_of(resources)] == \
        ["RadioUser"]


def test_a_driver_publishing_the_resource_wakes_the_waiter() -> None:
    publisher = kext("com.test.pub", {"p": personality(
        "_RadioPublisher", provider="IOService", IOPropertyMatch={"radio-switch": True})})
    host = _host(publisher)
    host.classes.register_kext_classes("com.test.pub", [_RadioPublisher])
    host.boot()
    assert host.drivers_of("pci14e4,4331") == []
    host.plug(NubSpec("IOService", name="switch", properties={"radio-switch": True}),
              host.registry.plane_root(SERVICE_PLANE))
    assert [d.iokit_class_name for d in host.drivers_of("pci14e4,4331")] == ["_NeedsRadio"]


def test_wait_for_matching_service_uses_the_driven_clock() -> None:
    host = make_host([wifi_nub()], []).boot()
    matching = {"IOProviderClass": "IOService", "IONameMatch": "late"}
    root = host.registry.plane_root(SERVICE_PLANE)
    host.clock.call_at(5_000_000, lambda: host.plug(NubSpec("IOService", name="late"), root))
    assert host.wait_for_matching_service(matching, timeout_ns=2_000_000) is None
    assert host.clock.now_ns() == 2_000_000  # gave up exactly at the deadline
    found = host.wait_for_matching_service(matching, timeout_ns=10_000_000)
    assert found is host.find("late")
    assert host.clock.now_ns() == 5_000_000
    assert host.waiting == ()
    # an existing matched service is returned at once, without moving the clock
    assert host.wait_for_matching_service(matching, timeout_ns=0) is found


def test_a_timeout_past_the_end_of_the_clock_waits_to_its_end() -> None:
    # mach_absolute_time stops at 2**64-1 ns: a longer timeout waited there, not past it
    # (which raised ClockOverflowError out of the wait).
    from iokit_host.clock import MAX_NS

    host = make_host([wifi_nub()], []).boot()
    matching = {"IOProviderClass": "IOService", "IONameMatch": "never"}
    host.clock.call_at(MAX_NS - 5, lambda: None)  # a timer, so the wait moves the clock
    assert host.wait_for_matching_service(matching, timeout_ns=1 << 70) is None
    assert host.clock.now_ns() == MAX_NS
    assert host.waiting == ()
