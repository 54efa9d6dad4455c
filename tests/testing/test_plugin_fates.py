"""The ``iokit_host`` fixture and the fate assertions, on the sample drivers' real manifests.

Kexts are named by folder here (no install needed); tests/samples covers installed ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iokit_host.machine.model import NubSpec
from iokit_host.testing import (
    KextNotFoundError,
    assert_bound,
    assert_failed,
    assert_kext_refused,
    assert_not_bound,
    assert_not_matched,
    assert_waiting,
    drivers_named,
)

Folder = Callable[[str], Path]


@pytest.fixture
def wifi(sample_kext: Folder) -> list[Path]:
    return [sample_kext(n) for n in ("wlan-family", "bcm43xx", "thirdparty-wifi", "pci-generic")]


def test_the_vendor_driver_wins_the_bcm4331_with_its_probe_score(iokit_host: Any,
                                                                  wifi: list[Path]) -> None:
    host = iokit_host(kexts=wifi)
    driver = assert_bound(host, "AppleBCM43xx", nub="ARPT", score=5000)
    assert driver.get_property("IOWLANChip") == "BCM4331"
    assert_not_bound(host, "IOWLANDriver")
    assert_not_bound(host, "ThirdPartyWiFiKext")


def test_only_the_named_kexts_are_loaded(iokit_host: Any, sample_kext: Folder) -> None:
    host = iokit_host(kexts=[sample_kext("thirdparty-wifi")])
    assert_bound(host, "ThirdPartyWiFiKext", nub="ARPT", score=600)
    loaded = {entry.bundle_id for entry in host.catalogue}
    assert "com.example.driver.BCM43xx" not in loaded
    assert "com.example.iokit.WLANFamily" not in loaded


def test_a_wrong_score_fails_with_the_explain_table(iokit_host: Any, wifi: list[Path]) -> None:
    host = iokit_host(kexts=wifi)
    with pytest.raises(AssertionError) as caught:
        assert_bound(host, "AppleBCM43xx", nub="ARPT", score=1500)
    text = str(caught.value)
    assert "with score 5000, not 1500" in text
    # every candidate of the nub, with its fate
    assert "IOWLANDriver" in text and "lost" in text
    assert "ThirdPartyWiFiKext" in text and "IOPCIDeviceGeneric" in text
    # One meaning per column: the score probe was offered, then what it bid.
    assert re.search(r"personality\s+IOClass\s+bundle\s+initial\s+score\s+outcome", text)
    assert re.search(r"AppleBCM43xx\s+com\.example\.driver\.BCM43xx\s+2000\s+5000\s+started",
                     text)


def test_a_driver_that_lost_is_reported_with_who_beat_it(iokit_host: Any,
                                                          wifi: list[Path]) -> None:
    host = iokit_host(kexts=wifi)
    with pytest.raises(AssertionError, match=r"(?s)ThirdPartyWiFiKext is not bound on ARPT.*"
                                             r"lost to com\.example\.driver\.BCM43xx"):
        assert_bound(host, "ThirdPartyWiFiKext", nub="ARPT")


def test_not_matched_names_the_failing_key(iokit_host: Any, wifi: list[Path]) -> None:
    host = iokit_host(kexts=wifi)
    result = assert_not_matched(host, "AppleBCM43xx", nub="GIGE", key="IOPCIMatch")
    assert result.failed_key == "IOPCIMatch"
    assert_not_matched(host, "ThirdPartyWiFiKext", nub="GIGE", key="IONameMatch")
    assert_not_matched(host, "AppleBCM43xx", nub="Apple Internal Keyboard",
                       key="IOProviderClass")


def test_not_matched_fails_when_it_matches_or_for_another_key(iokit_host: Any,
                                                              wifi: list[Path]) -> None:
    host = iokit_host(kexts=wifi)
    with pytest.raises(AssertionError, match="matches ARPT"):
        assert_not_matched(host, "AppleBCM43xx", nub="ARPT")
    with pytest.raises(AssertionError, match="not because of IONameMatch"):
        assert_not_matched(host, "AppleBCM43xx", nub="GIGE", key="IONameMatch")


def test_an_unknown_nub_lists_the_names_there_are(iokit_host: Any, wifi: list[Path]) -> None:
    host = iokit_host(kexts=wifi)
    with pytest.raises(AssertionError, match="no nub 'AIRPORT'.*ARPT"):
        assert_bound(host, "AppleBCM43xx", nub="AIRPORT")


def test_unplug_stops_the_driver_and_plug_brings_it_back(iokit_host: Any,
                                                          wifi: list[Path]) -> None:
    host = iokit_host(kexts=wifi)
    arpt = host.find("ARPT")
    bridge = arpt.get_provider()
    spec = NubSpec("IOPCIDevice", name="ARPT", location="0", properties=arpt.copy_properties())
    host.unplug(arpt)
    assert_not_bound(host, "AppleBCM43xx")
    host.plug(spec, bridge)
    assert_bound(host, "AppleBCM43xx", nub="ARPT", score=5000)


def test_the_keyboard_driver_publishes_its_own_nub(iokit_host: Any, sample_kext: Folder) -> None:
    host = iokit_host(kexts=[sample_kext("hid-keyboard")])
    driver = assert_bound(host, "SampleHIDKeyboard", nub="Apple Internal Keyboard")
    (events,) = drivers_named(host, "SampleHIDKeyboardEvents")
    assert events.get_provider() is driver
    assert events.get_property("VendorID") == 0x05AC
    # the touchpad is HID too, but its protocol is 2 (mouse), not 1 (keyboard)
    assert_not_bound(host, "SampleHIDKeyboard", nub="Touchpad@2")


def test_a_library_too_old_for_its_client_refuses_the_client(iokit_host: Any,
                                                             sample_kext: Folder) -> None:
    host = iokit_host(kexts=[sample_kext("versions/wlan-family-1"), sample_kext("bcm43xx")])
    refusal = assert_kext_refused(host, "com.example.driver.BCM43xx",
                                  reference="kext-library-incompatible")
    assert refusal.key == "OSBundleLibraries.com.example.iokit.WLANFamily"
    # the 1.x family itself loads and drives the chip
    assert_bound(host, "IOWLANDriver", nub="ARPT", score=1500)
    with pytest.raises(AssertionError, match="kext-library-incompatible"):
        assert_bound(host, "AppleBCM43xx", nub="ARPT")


def test_a_kext_that_was_not_refused_fails_assert_kext_refused(iokit_host: Any,
                                                               wifi: list[Path]) -> None:
    host = iokit_host(kexts=wifi)
    with pytest.raises(AssertionError, match="was not refused"):
        assert_kext_refused(host, "com.example.driver.BCM43xx")


def test_a_start_that_raises_is_a_failure_with_its_reason(iokit_host: Any,
                                                         make_kext: Callable[..., Path]) -> None:
    folder = make_kext("brokenkbd", "com.test.BrokenKeyboard", personalities={"Broken": {
        "IOClass": "BrokenKeyboard", "IOProviderClass": "IOUSBHostInterface",
        "bInterfaceClass": 3, "bInterfaceSubClass": 1, "bInterfaceProtocol": 1}}, code="""
        class BrokenKeyboard(IOService):
            def start(self, provider):
                raise RuntimeError("no firmware")
        """)
    host = iokit_host(kexts=[folder])
    record = assert_failed(host, "BrokenKeyboard", nub="Apple Internal Keyboard")
    assert "no firmware" in record.reason
    assert_failed(host, "BrokenKeyboard", reason="no firmware")
    assert_not_bound(host, "BrokenKeyboard")
    with pytest.raises(AssertionError, match="did not fail with 'out of memory'"):
        assert_failed(host, "BrokenKeyboard", reason="out of memory")


def test_a_driver_waiting_for_a_resource_is_waiting(iokit_host: Any,
                                                    make_kext: Callable[..., Path]) -> None:
    folder = make_kext("latekbd", "com.test.LateKeyboard", personalities={"Late": {
        "IOClass": "LateKeyboard", "IOProviderClass": "IOUSBHostInterface",
        "bInterfaceClass": 3, "bInterfaceSubClass": 1, "bInterfaceProtocol": 1,
        "IOResourceMatch": "com_test_firmware"}}, code="""
        class LateKeyboard(IOService):
            pass
        """)
    host = iokit_host(kexts=[folder])
    assert_waiting(host, "LateKeyboard", reason="com_test_firmware")
    assert_not_bound(host, "LateKeyboard")
    host.publish_resource("com_test_firmware")
    assert_bound(host, "LateKeyboard", nub="Apple Internal Keyboard")
    with pytest.raises(AssertionError, match="LateKeyboard is not waiting"):
        assert_waiting(host, "LateKeyboard")


def test_a_bundle_id_nobody_installed_is_a_clear_error(iokit_host: Any) -> None:
    with pytest.raises(KextNotFoundError) as caught:
        iokit_host(kexts=["com.nobody.NotInstalled"])
    assert caught.value.ref == "test-kext-not-found"
    assert "pip install" in str(caught.value)


def test_not_matched_names_a_usb_key_with_both_values(iokit_host: Any, make_kext: Any) -> None:
    folder = make_kext("acme_hub", "com.acme.Hub", personalities={"AcmeHub": {
        "IOClass": "AcmeHub", "IOProviderClass": "IOUSBHostDevice",
        "idVendor": 1133, "idProduct": 9491}},
        code="class AcmeHub(IOService):\n    pass\n")
    host = iokit_host(kexts=[folder])
    result = assert_not_matched(host, "AcmeHub", nub="HubDevice", key="idVendor")
    assert result.reason == "wants 1133, the device has 1060"
    with pytest.raises(AssertionError, match="not because of idProduct"):
        assert_not_matched(host, "AcmeHub", nub="HubDevice", key="idProduct")


def test_not_matched_gives_the_pci_registers(iokit_host: Any, wifi: list[Path]) -> None:
    host = iokit_host(kexts=wifi)
    result = assert_not_matched(host, "AppleBCM43xx", nub="GIGE", key="IOPCIMatch")
    assert result.reason is not None
    assert "device register is 0x16b414e4" in result.reason


def test_one_kext_given_alone_is_that_kext(iokit_host: Any, sample_kext: Folder) -> None:
    """``kexts="..."`` was taken as its characters: 'no installed distribution declares
    kext /' for a path."""
    host = iokit_host(kexts=str(sample_kext("thirdparty-wifi")))
    assert_bound(host, "ThirdPartyWiFiKext")
    assert_bound(iokit_host(kexts=sample_kext("thirdparty-wifi")), "ThirdPartyWiFiKext")


def test_a_refused_manifest_is_one_line_with_its_hint(iokit_host: Any, tmp_path: Path) -> None:
    with pytest.raises(KextNotFoundError) as caught:
        iokit_host(kexts=[tmp_path / "missing"])
    assert "manifest-not-found: " in str(caught.value) and "\\n" not in str(caught.value)
    assert "\n  hint: give a kext folder" in str(caught.value)
