"""IOKitHost: the seed picture, lookups, hot-plug and unplug, summary."""

from __future__ import annotations

import plistlib
from pathlib import Path

import pytest
from hostkit import kext, machine, make_host, personality, wifi_nub
from iokit_sdk import IOService
from iokit_sdk.keys import SERVICE_PLANE

from iokit_host.host import IOKitHost, NotUnpluggableError, PlugTooDeepError
from iokit_host.kernel.workloop import MAX_SERVICE_DEPTH
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
    # The demo's catch-all (sample_drivers/iokit-sample-pci-generic), codeless here.
    generic = kext("com.example.iokit.PCIGeneric",
                   {"IOPCIDeviceGeneric": personality("IOPCIDeviceGeneric", score=100)})
    return make_host([wifi_nub()], [third, bcm, wlan, generic], {
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


def test_a_chain_of_plugs_stops_below_any_real_depth() -> None:
    """Each plug under the last cost its depth (path, busy count, lookup): a scenario of
    thousands took minutes. Past the bound a plug is refused, naming the provider."""
    host = _seed_host().boot()
    parent: IOService = host.registry.plane_root(SERVICE_PLANE)  # type: ignore[assignment]
    with pytest.raises(PlugTooDeepError) as refused:
        for number in range(MAX_SERVICE_DEPTH + 10):
            parent = host.plug(NubSpec("IOService", name=f"c{number}"), parent)
    assert refused.value.reference == "plug-too-deep"
    assert f"is {MAX_SERVICE_DEPTH} providers deep" in str(refused.value)
    assert host.find(f"c{MAX_SERVICE_DEPTH - 3}") is not None


@pytest.mark.parametrize("target", ["IOService:/", "TestMac", "IOResources"])
def test_the_machine_and_iokit_resources_cannot_be_unplugged(target: str) -> None:
    # Unplugging the IOService plane's root terminated every service, IOResources included.
    host = make_host([wifi_nub()], []).boot()
    before = len(host.kernel.services())
    with pytest.raises(NotUnpluggableError) as refused:
        host.unplug(target)
    assert refused.value.diagnostic.reference == "service-not-unpluggable"
    assert refused.value.diagnostic.hint
    assert len(host.kernel.services()) == before and not host.find("IOResources").is_inactive()


def test_boot_is_idempotent_and_uses_only_the_given_kexts() -> None:
    host = make_host([wifi_nub()], [])
    assert host.boot() is host.boot()
    assert host.drivers_of(NUB) == []  # the kernel has no driver of its own
    assert host.resolution is not None and host.resolution.load_order == ()


# -- the kernel has no drivers of its own ----------------------------------------------------
QEMU_DUMP = "ioreg/sonvirgo__KVM-QEMU-macOS-Monterey__ioreg.txt"
XHCI_PLIST = "plists/apple-oss-distributions__IOUSBFamily__AppleUSBXHCI_Plists_Info.plist"


def test_a_real_dump_booted_without_kexts_gains_no_driver(corpus: Path) -> None:
    host = IOKitHost(corpus / QEMU_DUMP, kexts=[]).boot()
    classes = {service.iokit_class_name for service in host.kernel.services()}
    assert "IOPCIDeviceGeneric" not in classes
    assert host.summary().drivers_started == 0


def test_apples_xhci_personality_at_score_0_is_not_outbid_by_a_driver_of_the_host(
        corpus: Path) -> None:
    xhci = NubSpec("IOPCIDevice", name="pci8086,1e31", location="14",
                   properties={"class-code": b"\x30\x03\x0c\x00",
                               "vendor-id": b"\x86\x80\x00\x00"})
    host = IOKitHost(machine(xhci), kexts=[], kext_paths=[corpus / XHCI_PLIST]).boot()
    (driver,) = host.drivers_of("pci8086,1e31")
    assert driver.iokit_class_name == "AppleUSBXHCI"
    assert driver.get_property("IOProbeScore") == 0
    assert [c.io_class for c in host.explain("pci8086,1e31").candidates] == ["AppleUSBXHCI"]


# -- the summary counts every refusal ---------------------------------------------------------
_LIBS = {"com.apple.kpi.iokit": "8.0"}
_REFUSED: dict[str, bytes] = {
    "unreadable plist": b"not a property list",
    "placeholder identity": plistlib.dumps({
        "CFBundleIdentifier": "$(PRODUCT_BUNDLE_IDENTIFIER)", "CFBundleVersion": "1.0",
        "OSBundleLibraries": _LIBS}),
    "personality without a class": plistlib.dumps({
        "CFBundleIdentifier": "com.x.pers", "CFBundleVersion": "1.0", "OSBundleLibraries": _LIBS,
        "IOKitPersonalities": {"Good": {"IOClass": "G", "IOProviderClass": "IOPCIDevice"},
                               "Bad": {"IOClass": 5, "IOProviderClass": "IOPCIDevice"}}}),
    "personality without a provider class": plistlib.dumps({
        "CFBundleIdentifier": "com.x.prov", "CFBundleVersion": "1.0", "OSBundleLibraries": _LIBS,
        "IOKitPersonalities": {"P": {"IOClass": "P"}}}),
    "kext refused by the resolver": plistlib.dumps({
        "CFBundleIdentifier": "com.x.lonely", "CFBundleVersion": "1.0",
        "CFBundleExecutable": "Lonely",  # codeless, it would still publish: not refused
        "OSBundleLibraries": {"org.coolstar.VoodooGPIO": "1.1", **_LIBS}}),
}


@pytest.mark.parametrize("kind", sorted(_REFUSED))
def test_the_summary_counts_each_kind_of_refusal_once(kind: str, tmp_path: Path) -> None:
    plist = tmp_path / "Info.plist"
    plist.write_bytes(_REFUSED[kind])
    host = IOKitHost(machine(wifi_nub()), kexts=[], kext_paths=[plist]).boot()
    assert host.summary().refusals == 1, host.diagnostics
    assert str(host.summary()).endswith("1 refusals, 0 waiting")


def test_refusals_add_up_and_warnings_that_refuse_nothing_do_not_count(tmp_path: Path) -> None:
    paths = []
    for index, data in enumerate(_REFUSED.values()):
        paths.append(tmp_path / f"{index}.plist")
        paths[-1].write_bytes(data)
    paths.append(tmp_path / "missing.plist")
    dropped_key = tmp_path / "dropped.plist"  # a key dropped, the personality still published
    dropped_key.write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.x.score", "CFBundleVersion": "1.0", "OSBundleLibraries": _LIBS,
        "IOKitPersonalities": {"S": {"IOClass": "S", "IOProviderClass": "IOPCIDevice",
                                     "IOProbeScore": "12"}}}))
    host = IOKitHost(machine(wifi_nub()), kexts=[], kext_paths=[*paths, dropped_key]).boot()
    assert host.summary().refusals == len(_REFUSED) + 1
    assert "personality-ill-typed-number" in [d.reference for d in host.diagnostics]


def test_one_manifest_given_twice_is_one_kext(tmp_path: Path) -> None:
    # 'iokit boot --kext k --kext k/Info.plist': the kext claimed its bundle id against
    # itself, 'com.x.twice is claimed by k/Info.plist and k/Info.plist', once per extra copy.
    folder = tmp_path / "k"
    folder.mkdir()
    (folder / "Info.plist").write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.x.twice", "CFBundleVersion": "1.0", "OSBundleLibraries": _LIBS,
        "IOKitPersonalities": {"T": {"IOClass": "T", "IOProviderClass": "IOPCIDevice"}}}))
    (tmp_path / "link").symlink_to(folder)
    host = IOKitHost(machine(wifi_nub()), kexts=[], kext_paths=[
        folder, folder / "Info.plist", tmp_path / "link", folder]).boot()
    assert [d.reference for d in host.diagnostics if d.reference.startswith("kext-")] == []
    assert [b.bundle_id for b in host.resolution.load_order] == ["com.x.twice"]
