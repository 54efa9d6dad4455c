"""The WLAN family: a library kext whose own personality drives the BCM4331 at 1500."""

from __future__ import annotations

from typing import Any

from iokit_host.testing import assert_bound, assert_not_matched, assert_power_state, sleep, wake

FAMILY = "com.example.iokit.WLANFamily"


def test_drives_the_bcm4331_when_no_vendor_driver_is_installed(iokit_host: Any) -> None:
    host = iokit_host(kexts=[FAMILY])
    driver = assert_bound(host, "IOWLANDriver", nub="ARPT", score=1500)
    assert driver.get_property("IOWLANFamilyVersion") == 2


def test_is_a_library_that_1x_clients_cannot_link(iokit_host: Any) -> None:
    host = iokit_host(kexts=[FAMILY])
    family = host.resolution.bundle(FAMILY)
    assert family.is_library
    assert (family.version, family.compatible_version) == ("2.1.0", "2.0.0")


def test_matches_only_the_bcm4331(iokit_host: Any) -> None:
    host = iokit_host(kexts=[FAMILY])
    assert_not_matched(host, "IOWLANDriver", nub="GIGE", key="IOPCIMatch")


def test_the_radio_powers_down_for_sleep_and_up_on_wake(iokit_host: Any) -> None:
    host = iokit_host(kexts=[FAMILY])
    driver = assert_power_state(host, "IOWLANDriver", 1)
    assert driver.radio_on
    sleep(host)
    assert_power_state(host, driver, 0)
    assert not driver.radio_on
    wake(host)
    assert_power_state(host, driver, 1)
    assert driver.radio_on
