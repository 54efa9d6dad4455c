"""Matching notifications: order within a pass, priorities, delivery of existing services."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import pytest
from hostilekit import HostileBytes, HostileInt, HostileStr
from hostkit import BCM_VENDOR, driven_watchdog, kext, make_host, personality, wifi_nub
from iokit_sdk import IOService, hookimpl


class _Recorder:
    """A host plugin that records every notification hook."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def iokit_first_publish(self, service: IOService) -> None:
        self.seen.append(("first_publish", service.get_name()))

    @hookimpl
    def iokit_publish(self, service: IOService) -> None:
        self.seen.append(("publish", service.get_name()))

    @hookimpl
    def iokit_start(self, service: IOService, provider: IOService) -> None:
        self.seen.append(("start", service.get_name()))

    @hookimpl
    def iokit_matched(self, service: IOService) -> None:
        self.seen.append(("matched", service.get_name()))

    @hookimpl
    def iokit_first_match(self, service: IOService) -> None:
        self.seen.append(("first_match", service.get_name()))


def test_notifications_fire_around_the_drivers_start_in_iokit_order() -> None:
    recorder = _Recorder()
    bundle = kext("com.test.n", {"d": personality("IOService", score=900)})
    host = make_host([wifi_nub()], [bundle], plugins=[recorder]).boot()
    for_nub = [kind for kind, name in recorder.seen if name in ("pci14e4,4331", "IOService")]
    assert for_nub == ["first_publish", "publish", "start", "matched", "first_match"]
    host.kernel.register_service(host.find("pci14e4,4331"))
    host.kernel.run_until_quiet()
    again = [kind for kind, name in recorder.seen[len(recorder.seen) - 2:]]
    assert again == ["publish", "matched"]  # the "first" ones fire once per lifetime


def test_notifiers_are_ordered_by_priority_and_get_existing_services() -> None:
    host = make_host([wifi_nub(), wifi_nub(location="1")], []).boot()
    order: list[str] = []
    host.add_matching_notification("matched", {"IOProviderClass": "IOPCIDevice"},
                                   lambda s: order.append(f"low:{s.get_location()}"))
    host.add_matching_notification("matched", {"IOProviderClass": "IOPCIDevice"},
                                   lambda s: order.append(f"high:{s.get_location()}"),
                                   priority=10)
    assert order == ["low:0", "low:1", "high:0", "high:1"]  # delivered at install
    order.clear()
    host.plug(host.find("pci14e4,4331@1").__class__({"x": 1}, name="hot", location="2"),
              host.registry.plane_root("IOService"))
    assert order == ["high:2", "low:2"]


def test_removed_notifier_is_not_called_and_matching_filters() -> None:
    generic = kext("com.test.generic", {"g": personality("Generic", score=100)})
    host = make_host([wifi_nub()], [generic]).boot()
    seen: list[str] = []
    notifier = host.add_matching_notification(
        "terminated", {"IONameMatch": "pci14e4,4331"}, lambda s: seen.append(s.get_name()))
    host.unplug(host.drivers_of("pci14e4,4331")[0])
    assert seen == []  # the generic driver's name does not match
    notifier.remove()
    host.unplug("pci14e4,4331")
    assert seen == []


def test_a_plugin_registered_after_boot_sees_notifications_of_later_nubs() -> None:
    # Unobserved notifications are skipped; registering a plugin must make them fire again.
    host = make_host([wifi_nub()], [kext("com.test.n", {})]).boot()
    recorder = _Recorder()
    host.kernel.plugin_manager.register(recorder)
    host.plug(IOService(name="late"), host.find("pci14e4,4331"))
    assert [kind for kind, name in recorder.seen if name == "late"] == [
        "first_publish", "publish", "matched", "first_match"]
    host.kernel.plugin_manager.unregister(recorder)
    host.plug(IOService(name="later"), host.find("pci14e4,4331"))
    assert not [kind for kind, name in recorder.seen if name == "later"]


def test_hook_call_monitoring_sees_every_notification() -> None:
    host = make_host([wifi_nub()], [kext("com.test.n", {})]).boot()
    traced: list[str] = []
    undo = host.kernel.plugin_manager.add_hookcall_monitoring(
        lambda name, impls, kwargs: traced.append(name), lambda *args: None)
    host.plug(IOService(name="traced"), host.find("pci14e4,4331"))
    assert {"iokit_first_publish", "iokit_publish", "iokit_matched",
            "iokit_first_match"} <= set(traced)
    undo()
    traced.clear()
    host.plug(IOService(name="untraced"), host.find("pci14e4,4331"))
    assert "iokit_publish" not in traced
    assert "iokit_register_service" not in traced


def test_a_notifier_installed_after_boot_is_called_for_later_nubs() -> None:
    host = make_host([wifi_nub()], [kext("com.test.n", {})]).boot()
    seen: list[str] = []
    host.kernel.notifications.install("matched", {"IONameMatch": "late"},
                                      lambda service: seen.append(service.get_name()))
    host.plug(IOService(name="late"), host.find("pci14e4,4331"))
    assert seen == ["late"]


def test_a_notifier_s_dictionary_is_compiled_once_not_for_each_new_service(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A program's IOPropertyMatch of 200,000 keys was compiled again for every service
    published, for every notifier holding one."""
    from iokit_host.matching import passive

    host = make_host([wifi_nub()], [kext("com.test.n", {})]).boot()
    seen: list[str] = []
    host.kernel.notifications.install(
        "publish", {"IOPropertyMatch": {"late": True, **{str(i): i for i in range(1000)}}},
        lambda service: seen.append(service.get_name()))
    compiled: list[Mapping[str, Any]] = []
    real = passive.compile_plan

    def compile_plan(table: Mapping[str, Any]) -> passive.MatchPlan:
        compiled.append(table)
        return real(table)
    monkeypatch.setattr(passive, "compile_plan", compile_plan)
    for name in ("one", "two", "three"):
        host.plug(IOService(name=name), "pci14e4,4331")
    assert seen == [] and not any("IOPropertyMatch" in table for table in compiled)


def test_a_drivers_matching_values_are_kept_as_built_in_values() -> None:
    """Every later matching pass reads a notifier's dictionary: a driver's str or int
    subclass in it would run its __hash__/__eq__ in each, so a copy of built-in values is
    kept, and what is no property value is refused to the driver when it installs."""
    host = make_host([wifi_nub(), wifi_nub(location="1")], [])
    seen: list[str] = []
    host.kernel.notifications.install(
        HostileStr("publish"), {"IOProviderClass": HostileStr("IOPCIDevice"),
                                "IOPropertyMatch": {"vendor-id": HostileBytes(BCM_VENDOR)}},
        lambda s: seen.append(s.get_location() or ""), priority=HostileInt(1))
    with pytest.raises(TypeError):
        host.kernel.notifications.install("publish", {"IOProviderClass": object()}, print)
    host.boot()
    assert seen == ["0", "1"] and host.diagnostics == []


def test_a_handler_that_hangs_is_abandoned_once_and_its_notifier_removed() -> None:
    """A hung handler costs the limit once, not once for every later service."""
    host = make_host([wifi_nub(), wifi_nub(location="1")], [])
    clock = driven_watchdog(host)
    calls: list[str] = []

    def hangs(service: IOService) -> None:
        calls.append(service.get_location() or "")
        while True:
            clock.advance(0.01)

    host.kernel.notifications.install("publish", {"IOProviderClass": "IOPCIDevice"}, hangs)
    host.boot()
    assert calls == ["0"]  # abandoned, then removed: never called for "1"
    (timeout,) = host.diagnostics
    assert timeout.reference == "driver-call-timeout"
    assert "test_notifications.test_a_handler_that_hangs" in timeout.message  # its module
    assert "its notifier was removed" in (timeout.hint or "")


def test_a_raising_handler_is_reported_and_the_others_and_the_boot_go_on() -> None:
    host = make_host([wifi_nub(), wifi_nub(location="1")], [])
    seen: list[str] = []

    def broken(service: IOService) -> None:
        raise SystemExit("handler gave up")

    host.kernel.notifications.install("publish", {"IOProviderClass": "IOPCIDevice"}, broken,
                                      priority=10)
    host.kernel.notifications.install("publish", {"IOProviderClass": "IOPCIDevice"},
                                      lambda s: seen.append(s.get_location() or ""))
    host.boot()
    assert seen == ["0", "1"]
    assert [d.reference for d in host.diagnostics] == ["notification-handler-raised"] * 2
    assert "raised SystemExit: handler gave up" in host.diagnostics[0].message


def test_many_notifiers_of_many_classes_are_told_as_each_one_would_be_tried() -> None:
    # Past a few notifiers a delivery reads only those whose IOProviderClass the service is
    # one of (and those that name none): the same handlers, in the same priority order.
    host = make_host([wifi_nub()], []).boot()
    nub = host.find("pci14e4,4331")
    told: list[int] = []
    classes = ["IOPCIDevice", "IOService", "IOUSBHostDevice", None, "IOACPIPlatformDevice",
               7]
    installed = []
    for number in range(60):
        wanted = classes[number % len(classes)]
        matching = {} if wanted is None else {"IOProviderClass": wanted}
        installed.append((number, wanted, -(number % 5)))
        host.add_matching_notification("terminated", matching,
                                       lambda s, number=number: told.append(number),
                                       priority=-(number % 5))
    host.kernel.notifications.deliver("terminated", nub)
    expected = [number for number, wanted, _ in sorted(installed, key=lambda i: (-i[2], i[0]))
                if wanted is None or wanted in ("IOPCIDevice", "IOService")]
    assert told == expected


def test_a_handlers_result_is_dropped_inside_its_call_under_the_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler returned an object whose ``__del__`` hangs: dropped outside the watched
    call, it stalled the host, silently; dropped inside, the handler is abandoned and named."""
    host = make_host([wifi_nub()], [])
    clock = driven_watchdog(host)
    monkeypatch.setattr(sys, "unraisablehook", lambda args: None)  # the interruption

    class Lingering:
        def __del__(self) -> None:
            while clock.now() < 36_000:
                clock.advance(0.01)

    host.kernel.notifications.install("publish", {"IOProviderClass": "IOPCIDevice"},
                                      lambda service: Lingering())
    host.boot()
    assert clock.now() < 36_000
    (timeout,) = host.diagnostics
    assert timeout.reference == "driver-call-timeout"
    assert "publish notification for" in timeout.message
