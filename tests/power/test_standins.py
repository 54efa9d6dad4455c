"""Stand-in power management: the default machine and a real Mac's dump sleep and wake with
every recorded device, back to the states they were recorded in."""

from __future__ import annotations

from pathlib import Path

from iokit_sdk import IOService
from powerkit import events

from iokit_host.host import IOKitHost
from iokit_host.power.pm import POWER_MANAGEMENT
from iokit_host.power.rootdomain import IOPMrootDomain
from iokit_host.power.standins import read_recorded

MBP_DUMP = "ioreg/khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IOReg.txt"
IMAC_DUMP = "ioreg/khronokernel__DarwinDumped__iMac_iMac13_2_IORegDump_IOReg.txt"


def _recorded(host: IOKitHost) -> dict[int, tuple[IOService, int]]:
    return {id(pm.service): (pm.service, pm.current) for pm in host.power.managed()
            if not isinstance(pm.service, IOPMrootDomain)}


def _assert_sleeps_leaves_first_and_wakes_back(host: IOKitHost) -> None:
    before = _recorded(host)
    assert before, "nothing recorded as power managed"
    assert host.sleep().result == "asleep"
    assert all(host.power.power_state(s) == 0 for s, _ in before.values())
    dropped = [e.path for e in events(host, "set-power-state") if e.to_state == 0]
    for index, path in enumerate(dropped):  # no parent before one of its children
        assert path is not None
        assert not any(other and other.startswith(path + "/") for other in dropped[index + 1:])
    assert host.wake().result == "awake"
    assert {key: host.power.power_state(s) for key, (s, _) in before.items()} == \
        {key: state for key, (_, state) in before.items()}
    assert host.power.log.unfinished() == 0
    assert not [d for d in host.diagnostics if d.reference.startswith("power-")]
    times = [e.t_ms for e in host.power.log.events()]
    assert times == sorted(times)


def test_the_default_machine_keeps_its_recorded_power_states_and_publishes_them_live() -> None:
    host = IOKitHost(kexts=[]).boot()  # no driver: a sample keyboard would be a power child
    ehci = host.find("AppleUSBEHCI")
    assert ehci is not None
    assert ehci.get_property(POWER_MANAGEMENT) == {
        "DevicePowerState": 3, "DriverPowerState": 3, "CurrentPowerState": 4,
        "CapabilityFlags": 0x8002, "MaxPowerState": 4}  # no recorded power children: no
    # ChildrenPowerState (the record's was the Mac's, whose USB devices were power managed)
    connection = ehci.get_parent_entry("IOPower")
    assert connection is not None and connection.iokit_class_name == "IOPowerConnection"
    assert connection.get_parent_entry("IOPower") is host.find("EHC2@1A,7")


def test_the_default_machine_sleeps_leaves_first_and_wakes_back_to_its_recorded_states() -> None:
    host = IOKitHost(kexts=[]).boot()  # the recorded devices only (tests/power/test_order.py:
    # the same with the installed sample drivers)
    _assert_sleeps_leaves_first_and_wakes_back(host)
    kinds = [e.kind for e in host.power.log.events()]
    assert kinds[0] == "system-sleep" and kinds.count("system-wake") == 1
    sleep_index, wake_index = kinds.index("system-sleep"), kinds.index("system-wake")
    assert sleep_index < wake_index


def test_a_stand_in_recorded_below_what_its_clients_ask_wakes_back_to_its_record(
        corpus: Path) -> None:
    # iMac13,2: Thunderbolt ports recorded off with ChildProxyPowerState 2 (the Mac held them
    # off); a sleep and a wake must not power them up
    host = IOKitHost(corpus / IMAC_DUMP, kexts=[]).boot()
    held = [pm for pm in host.power.managed() if pm.current == 0
            and any(value > 0 for value in pm.clients.values())]
    assert held
    assert all(pm.service.get_property(POWER_MANAGEMENT)["ChildProxyPowerState"] == 2
               for pm in held if "ChildProxyPowerState" in pm.clients)  # shown as recorded
    _assert_sleeps_leaves_first_and_wakes_back(host)


def test_a_real_macs_dump_sleeps_and_wakes_with_every_recorded_device(corpus: Path) -> None:
    host = IOKitHost(corpus / MBP_DUMP, kexts=[]).boot()
    root = host.power.root_domain
    assert root is not None and root.iokit_class_name == "IOPMrootDomain"
    assert sum(1 for c in root.get_clients() if c.iokit_class_name == "IORootParent") == 1
    assert len(host.power.managed()) > 100
    _assert_sleeps_leaves_first_and_wakes_back(host)


def test_recorded_values_that_are_not_small_numbers_are_ignored() -> None:
    assert read_recorded("on") is None
    recorded = read_recorded({"MaxPowerState": 10**9, "CurrentPowerState": -1,
                              "DevicePowerState": True, "DriverPowerState": "2"})
    assert recorded is not None and len(recorded.table) == 2  # nothing usable: off and on
    assert recorded.current == 1 and recorded.clients == {}
    recorded = read_recorded({"MaxPowerState": 4, "CurrentPowerState": 9, "DevicePowerState": 7})
    assert recorded is not None and recorded.current == 4 and recorded.clients == {
        "DevicePowerState": 4}
