"""AppleBCM43xx on the default machine, with whichever WLAN family line is installed.

tox's ``family1``/``family2`` factors set ``WLAN_FAMILY_LINE``; outside tox the installed
family's major version decides. With 2.x the vendor driver wins the BCM4331; with 1.x the
kernel refuses it, because it requests the family's 2.0 interface.
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import Any

import pytest

from iokit_host.testing import (
    assert_bound,
    assert_kext_refused,
    assert_not_bound,
    assert_not_matched,
    assert_power_state,
    sleep,
    wake,
)

FAMILY = "com.example.iokit.WLANFamily"
DRIVER = "com.example.driver.BCM43xx"
FAMILY_LINE = int(os.environ.get("WLAN_FAMILY_LINE")
                  or metadata.version("iokit-sample-wlan-family").split(".")[0])

needs_family_2 = pytest.mark.skipif(FAMILY_LINE != 2, reason="the 2.x family is not installed")
needs_family_1 = pytest.mark.skipif(FAMILY_LINE != 1, reason="the 1.x family is not installed")


def test_the_installed_family_is_the_expected_line() -> None:
    # Guards the matrix itself: a family1 env that installed 2.x would prove nothing.
    assert metadata.version("iokit-sample-wlan-family").startswith(f"{FAMILY_LINE}.")


@needs_family_2
def test_outbids_the_family_on_the_bcm4331(iokit_host: Any) -> None:
    host = iokit_host(kexts=[FAMILY, DRIVER])
    driver = assert_bound(host, "AppleBCM43xx", nub="ARPT", score=5000)
    assert driver.get_property("IOWLANChip") == "BCM4331"
    assert driver.get_property("IOWLANFamilyVersion") == 2
    assert_not_bound(host, "IOWLANDriver")


@needs_family_2
def test_leaves_other_pci_devices_alone(iokit_host: Any) -> None:
    host = iokit_host(kexts=[FAMILY, DRIVER])
    assert_not_matched(host, "AppleBCM43xx", nub="GIGE", key="IOPCIMatch")


@needs_family_2
def test_powers_down_for_sleep_and_back_up_on_wake(iokit_host: Any) -> None:
    host = iokit_host(kexts=[FAMILY, DRIVER])
    driver = assert_power_state(host, "AppleBCM43xx", 1)
    assert driver.radio_on and driver.firmware_loads == 1
    # In the power tree under its PCI nub, as ``ioreg -p IOPower`` shows it.
    connection = driver.get_parent_entry("IOPower")
    assert connection.get_parent_entry("IOPower") is driver.get_provider()
    sleep(host)
    assert_power_state(host, driver, 0)
    assert not driver.radio_on
    assert driver.get_property("IOPowerManagement")["CurrentPowerState"] == 0
    dropped = [e.path for e in host.power.log.events()
               if e.kind == "set-power-state" and e.to_state == 0]
    slot = host.path_of(driver.get_provider())
    assert dropped.index(host.path_of(driver)) < dropped.index(slot)  # the card, then its slot
    wake(host)
    assert_power_state(host, driver, 1)
    assert driver.radio_on and driver.firmware_loads == 2  # the firmware is loaded again


@needs_family_1
def test_is_refused_by_the_1x_family(iokit_host: Any) -> None:
    host = iokit_host(kexts=[FAMILY, DRIVER])
    refusal = assert_kext_refused(host, DRIVER, reference="kext-library-incompatible")
    assert refusal.key == f"OSBundleLibraries.{FAMILY}"
    # The family still loads, and its own personality drives the chip instead.
    assert_bound(host, "IOWLANDriver", nub="ARPT", score=1500)
    assert_not_bound(host, "AppleBCM43xx")
