"""IOPCIDeviceGeneric: bids 100 on every PCI device, so it drives only the unclaimed ones."""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any

from iokit_host.testing import (
    assert_bound,
    assert_not_bound,
    assert_power_state,
    drivers_named,
    sleep,
    wake,
)

KEXT = "com.example.iokit.PCIGeneric"


def test_claims_a_pci_device_no_other_kext_wants(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    driver = assert_bound(host, "IOPCIDeviceGeneric", nub="ARPT", score=100)
    assert driver.get_property("CFBundleIdentifier") == KEXT
    assert_bound(host, "IOPCIDeviceGeneric", nub="GIGE", score=100)


def test_any_driver_for_the_device_outbids_it(iokit_host: Any, tmp_path: Path) -> None:
    # A real driver's personality for the Broadcom card only (a codeless kext: an Info.plist).
    wifi = tmp_path / "Info.plist"
    wifi.write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.example.WiFi", "CFBundleVersion": "1.0",
        "OSBundleLibraries": {"com.apple.kpi.iokit": "9.0"},
        "IOKitPersonalities": {"WiFi": {
            "IOClass": "WiFiDriver", "IOProviderClass": "IOPCIDevice",
            "IONameMatch": "pci14e4,4331", "IOProbeScore": 600}}}))
    host = iokit_host(kexts=[KEXT, wifi])
    assert_bound(host, "WiFiDriver", nub="ARPT", score=600)
    assert_not_bound(host, "IOPCIDeviceGeneric", nub="ARPT")
    assert_bound(host, "IOPCIDeviceGeneric", nub="GIGE", score=100)


def test_stops_when_its_device_is_removed(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    before = len(drivers_named(host, "IOPCIDeviceGeneric"))
    host.unplug("ARPT")
    assert len(drivers_named(host, "IOPCIDeviceGeneric")) == before - 1
    assert_bound(host, "IOPCIDeviceGeneric", nub="GIGE", score=100)


def test_keeps_its_device_on_and_sleeps_and_wakes_with_it(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    drivers = drivers_named(host, "IOPCIDeviceGeneric")
    for driver in drivers:
        assert_power_state(host, driver, 1)
    sleep(host)
    for driver in drivers:
        assert_power_state(host, driver, 0)
    wake(host)
    for driver in drivers:
        assert_power_state(host, driver, 1)
