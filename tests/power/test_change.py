"""One power change at a time per service (§6.4): interested drivers told before and after and
before the children, children first on a drop and after on a rise, parents following their
children's needs, and trees far deeper than Python's recursion limit."""

from __future__ import annotations

import sys
from typing import ClassVar

from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService
from iokit_sdk.power import IOPMPowerState, kIOPMInitialDeviceState, kIOPMPowerOn
from powerkit import THREE, PMDevice, PowerJournal, Watcher, add_device, chain, events, power_host


class _Informee(IOService):
    def __init__(self, journal: PowerJournal, name: str) -> None:
        super().__init__(name=name)
        self.journal = journal

    def power_state_will_change_to(self, capabilities: int, ordinal: int,
                                   device: IOService) -> int:
        self.journal.add("will", self, ordinal, device)
        return 0

    def power_state_did_change_to(self, capabilities: int, ordinal: int,
                                  device: IOService) -> int:
        self.journal.add("did", self, ordinal, device)
        return 0


def _parent_child_informee():  # type: ignore[no-untyped-def]
    journal = PowerJournal()
    host = power_host()
    parent = add_device(host, None, "P", journal=journal)
    add_device(host, parent, "C", journal=journal)
    informee = _Informee(journal, "I")
    assert host.kernel.attach(informee, parent)
    assert parent.register_interested_driver(informee) == THREE[2].capability_flags
    journal.clear()
    return host, journal


def test_interested_drivers_hear_before_and_after_and_before_the_children_on_a_drop() -> None:
    host, journal = _parent_child_informee()
    host.sleep()
    assert [(c, n, v, about) for c, n, v, about in journal.calls] == [
        ("will", "I", 0, "P"), ("set_power_state", "C", 0, "C"),
        ("set_power_state", "P", 0, "P"), ("did", "I", 0, "P")]


def test_on_a_rise_the_parent_changes_and_tells_its_informees_before_the_children_rise() -> None:
    host, journal = _parent_child_informee()
    host.sleep()
    journal.clear()
    host.wake()
    assert [(c, n, v) for c, n, v, _ in journal.calls] == [
        ("will", "I", 2), ("set_power_state", "P", 2), ("did", "I", 2),
        ("set_power_state", "C", 2)]


def test_a_controlling_driver_that_overrides_will_and_did_hears_about_its_own_changes() -> None:
    journal = PowerJournal()
    host = power_host()
    device = add_device(host, None, "W", journal=journal, cls=Watcher)
    journal.clear()
    device.change_power_state_to(1)
    assert [(c, v) for c, _, v, _ in journal.calls] == [
        ("will", 1), ("set_power_state", 1), ("did", 1)]


def test_one_change_at_a_time_a_request_waits_for_the_acknowledgement_in_progress() -> None:
    journal = PowerJournal()
    host = power_host()
    device = add_device(host, None, "Busy", journal=journal)
    journal.clear()
    device.answer = lambda ordinal: 5_000_000 if ordinal == 1 else 0
    device.change_power_state_to(1)
    device.change_power_state_to(0)  # arrives while set_power_state(1) is unacknowledged
    assert journal.of("set_power_state") == [("Busy", 1)]
    host.advance(2000)
    device.acknowledge_set_power_state()
    host.power.run_until_idle()
    assert journal.of("set_power_state") == [("Busy", 1), ("Busy", 0)]
    assert device.get_power_state() == 0


def test_a_parent_stays_up_for_its_children_and_drops_after_the_last_one() -> None:
    journal = PowerJournal()
    host = power_host()
    parent = add_device(host, None, "P", journal=journal, want=0)
    child = add_device(host, parent, "C", journal=journal)
    # It wants nothing; its child needs power, which its state 1 is the lowest to supply.
    assert parent.get_power_state() == 1
    pm = parent.get_property("IOPowerManagement")
    assert pm["DriverPowerState"] == 0 and pm["ChildrenPowerState"] == 1
    journal.clear()
    child.change_power_state_to(0)
    host.power.run_until_idle()
    assert journal.of("set_power_state") == [("C", 0), ("P", 0)]
    assert "ChildrenPowerState" not in parent.get_property("IOPowerManagement")


def test_a_child_that_wants_more_than_its_parent_supplies_raises_the_parent_first() -> None:
    journal = PowerJournal()
    host = power_host()
    parent = add_device(host, None, "P", journal=journal, want=0)
    child = add_device(host, parent, "C", journal=journal, want=0)
    assert (parent.get_power_state(), child.get_power_state()) == (0, 0)
    journal.clear()
    child.change_power_state_to(2)
    host.power.run_until_idle()
    assert journal.of("set_power_state") == [("P", 1), ("C", 2)]


def test_the_live_iopowermanagement_dictionary_follows_every_change() -> None:
    host = power_host()
    device = add_device(host, None, "Live")
    assert device.get_property("IOPowerManagement") == {
        "DriverPowerState": 2, "CurrentPowerState": 2, "CapabilityFlags": 0x8002,
        "MaxPowerState": 2}
    device.answer = 5_000_000
    device.change_power_state_to(1)
    assert device.get_property("IOPowerManagement")["DesiredPowerState"] == 1  # under way
    device.acknowledge_set_power_state()
    host.power.run_until_idle()
    assert device.get_property("IOPowerManagement") == {
        "DriverPowerState": 1, "CurrentPowerState": 1, "CapabilityFlags": THREE[1].capability_flags,
        "MaxPowerState": 2}


def test_registering_runs_the_initial_change_unless_the_state_says_it_is_already_there() -> None:
    journal = PowerJournal()
    host = power_host()
    add_device(host, None, "Fresh", journal=journal)
    assert journal.of("set_power_state") == [("Fresh", 2)]  # to the highest the parent allows
    journal.clear()
    already = (IOPMPowerState(),
               IOPMPowerState(capability_flags=kIOPMPowerOn | kIOPMInitialDeviceState,
                              output_power_character=kIOPMPowerOn,
                              input_power_requirement=kIOPMPowerOn))
    device = add_device(host, None, "Booted", journal=journal, states=already)
    assert journal.of("set_power_state") == [] and device.get_power_state() == 1


def test_a_tree_thousands_deep_sleeps_and_wakes_without_recursion() -> None:
    journal = PowerJournal()
    host = power_host()
    depth = 2000
    assert depth > sys.getrecursionlimit() / 2
    devices = chain(host, depth, journal)
    journal.clear()
    assert host.sleep().result == "asleep"
    assert all(d.get_power_state() == 0 for d in devices)
    drops = journal.of("set_power_state")
    assert drops[0] == (f"D{depth - 1}", 0) and drops[-1] == ("D0", 0)
    journal.clear()
    assert host.wake().result == "awake"
    assert all(d.get_power_state() == 2 for d in devices)
    rises = journal.of("set_power_state")
    assert rises[0] == ("D0", 2) and rises[-1] == (f"D{depth - 1}", 2)
    assert host.power.log.unfinished() == 0
    deepest = next(e for e in events(host, "set-power-state")
                   if e.class_name == "PMDevice" and e.to_state == 0)
    assert deepest.path is not None and deepest.path.count("/") == depth


class _StartsPM(IOService):
    """A driver that joins power management in start(), as IOKit drivers do."""

    calls: ClassVar[list[str]] = []

    def start(self, provider: IOService) -> bool:
        self.pm_init()
        provider.join_pm_tree(self)
        self.register_power_driver(self, THREE)
        self.change_power_state_to(2)
        self.calls.append("start returned")
        return True

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        self.calls.append(f"set_power_state({ordinal})")
        return 0


def test_power_work_a_driver_asks_for_in_start_runs_after_start_returns() -> None:
    _StartsPM.calls = []
    bundle = kext("com.test.pm", {"pm": personality("_StartsPM")})
    host = make_host([wifi_nub()], [bundle], {"com.test.pm": [_StartsPM]})
    host.boot()
    assert _StartsPM.calls == ["start returned", "set_power_state(2)"]
    (driver,) = host.drivers_of("pci14e4,4331")
    assert driver.get_power_state() == 2
    assert host.power.pm_of(driver) is not None
    root = host.power.root_domain
    assert root is not None and driver.get_parent_entry("IOPower").get_parent_entry(  # type: ignore[union-attr]
        "IOPower") is root  # the PCI nub is not power managed: the root domain is its parent


def test_devices_keep_what_they_asked_for_across_sleep_and_wake() -> None:
    host = power_host()
    low = add_device(host, None, "Low", want=1)
    off = add_device(host, None, "Off", want=0)
    on = add_device(host, None, "On")
    host.sleep()
    assert (low.get_power_state(), off.get_power_state(), on.get_power_state()) == (0, 0, 0)
    host.wake()
    assert (low.get_power_state(), off.get_power_state(), on.get_power_state()) == (1, 0, 2)


def test_bad_requests_are_refused_with_iokit_codes() -> None:
    host = power_host()
    device = add_device(host, None, "Dev")
    unmanaged = PMDevice(name="Unmanaged")
    assert host.kernel.attach(unmanaged, device)
    assert unmanaged.change_power_state_to(1) == 8  # kIOPMNotYetInitialized
    assert device.change_power_state_to(-1) == 0xE00002C2  # kIOReturnBadArgument
    assert device.change_power_state_to(99) == 0  # clamped to the highest state
    assert unmanaged.get_power_state() == 0
    assert device.register_power_driver(device, THREE) == 0  # a second registration: ignored
