"""IOKitHost: the seed picture, lookups, hot-plug and unplug, summary."""

from __future__ import annotations

from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService
from iokit_sdk.keys import SERVICE_PLANE

from iokit_host.machine.model import NubSpec

NUB = "pci14e4,4331"


class AppleBCM43xx(IOService):
    pass


class IOWLANDriver(IOService):
    pass


class ThirdPartyWiFiKext(IOService):
    pass


def _seed_host():  # type: ignore[no-untyped-def]
    wlan = kext("com.apple.iokit.IOWLANFamily",
                {"WLAN": personality("IOWLANDriver", score=1500)})
    bcm = kext("com.apple.driver.AppleBCM43xx",
               {"BCM": personality("AppleBCM43xx", score=5000,
                                   IOPropertyMatch={"vendor-id": b"\xe4\x14\x00\x00"})},
               libraries={"com.apple.iokit.IOWLANFamily": "1.0"})
    third = kext("com.thirdparty.wifi", {"TP": personality("ThirdPartyWiFiKext", score=600)})
    return make_host([wifi_nub()], [third, bcm, wlan], {
        "com.apple.iokit.IOWLANFamily": [IOWLANDriver],
        "com.apple.driver.AppleBCM43xx": [AppleBCM43xx],
        "com.thirdparty.wifi": [ThirdPartyWiFiKext]})


def test_seed_picture_bcm43xx_wins_and_the_others_rank_with_outcomes() -> None:
    host = _seed_host().boot()
    (driver,) = host.drivers_of(NUB)
    assert type(driver) is AppleBCM43xx
    props = driver.properties
    assert props["IOProbeScore"] == 5000 and props["IOProbeScore"].bits == 32
    assert props["CFBundleIdentifier"] == "com.apple.driver.AppleBCM43xx"
    assert props["IOMatchCategory"] == "IODefaultMatchCategory"
    assert props["IOPropertyMatch"] == {"vendor-id": b"\xe4\x14\x00\x00"}
    rows = [(c.io_class, c.score, c.outcome) for c in host.explain(NUB).candidates]
    assert rows == [("AppleBCM43xx", 5000, "started"), ("IOWLANDriver", 1500, "lost"),
                    ("ThirdPartyWiFiKext", 600, "lost"), ("IOPCIDeviceGeneric", 100, "lost")]
    assert all("lost to com.apple.driver.AppleBCM43xx AppleBCM43xx (score 5000)" == c.reason
               for c in host.explain(NUB).candidates[1:])


def test_summary_counts_what_a_boot_did() -> None:
    host = _seed_host().boot()
    summary = host.summary()
    assert (summary.nubs, summary.drivers_started, summary.refusals, summary.waiting) == \
        (3, 1, 0, 0)
    assert str(summary).endswith("0 refusals, 0 waiting")


def test_find_by_path_name_class_and_location() -> None:
    host = _seed_host().boot()
    nub = host.find(NUB)
    assert nub is not None
    assert host.find("IOService:/pci14e4,4331@0") is nub
    assert host.find("pci14e4,4331@0") is nub
    assert host.find("AppleBCM43xx") is host.drivers_of(nub)[0]
    assert host.find("IOService:/nothing") is None and host.find("nothing") is None


def test_plug_matches_at_once_and_unplug_removes_the_subtree() -> None:
    host = _seed_host().boot()
    root = host.registry.plane_root(SERVICE_PLANE)
    card = NubSpec("IOPCIDevice", name="pci8086,1", location="3",
                   children=(NubSpec("IOPCIDevice", name="pci14e4,4331", location="4",
                                     properties={"vendor-id": b"\xe4\x14\x00\x00"}),))
    plugged = host.plug(card, root)
    assert [d.iokit_class_name for d in host.drivers_of(plugged)] == ["IOWLANDriver"]
    inner = host.find("pci14e4,4331@4")
    assert [d.iokit_class_name for d in host.drivers_of(inner)] == ["AppleBCM43xx"]
    victims = host.unplug("IOService:/pci8086,1@3")
    assert len(victims) == 4 and host.find("pci14e4,4331@4") is None
    assert host.find("pci8086,1") is None
    assert host.summary().drivers_started == 1
    assert root.get_busy_state() == 0


def test_boot_is_idempotent_and_uses_only_the_given_kexts() -> None:
    host = make_host([wifi_nub()], [])
    assert host.boot() is host.boot()
    assert [d.iokit_class_name for d in host.drivers_of(NUB)] == ["IOPCIDeviceGeneric"]
    assert host.resolution is not None and host.resolution.load_order == ()
