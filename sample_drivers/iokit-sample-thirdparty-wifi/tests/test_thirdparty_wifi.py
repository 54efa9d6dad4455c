"""ThirdPartyWiFiKext: matched by name, bids 600, so it wins only against generic drivers."""

from __future__ import annotations

from typing import Any

from iokit_host.testing import assert_bound, assert_not_bound, assert_not_matched

KEXT = "com.example.thirdparty.WiFiKext"


def test_beats_the_generic_pci_driver(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    driver = assert_bound(host, "ThirdPartyWiFiKext", nub="ARPT", score=600)
    assert driver.get_property("ThirdPartyChip") == "pci14e4,4331"


def test_matches_by_name_only(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    assert_not_matched(host, "ThirdPartyWiFiKext", nub="GIGE", key="IONameMatch")


def test_stops_when_the_card_is_removed(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    host.unplug("ARPT")
    assert_not_bound(host, "ThirdPartyWiFiKext")
