"""Name matching (IODTCompareNubName and its users) and provider property merging."""

from __future__ import annotations

from iokit_host.matching.classes import ClassRegistry
from iokit_host.matching.families import default_compare_name, name_comparer_for
from iokit_host.matching.families.merge import merge_provider_properties
from iokit_host.registry import IORegistry


def entry(class_name: str, entry_name: str | None = None, /, **props: object):  # type: ignore[no-untyped-def]
    return ClassRegistry().resolve(class_name)(props, name=entry_name)


def compare(nub: object, wanted: str) -> str | None:
    return name_comparer_for(nub)(nub, wanted)  # type: ignore[arg-type]


def test_pci_nub_matches_name_and_compatible_lists() -> None:
    nub = entry("IOPCIDevice", "GFX0", name=b"display\0",
                compatible=b"pci106b,dc\0pci8086,104\0pciclass,060000\0")
    assert compare(nub, "pci8086,104") == "pci8086,104"
    assert compare(nub, "display") == "display"
    assert compare(nub, "pci8086,1") is None
    assert compare(nub, "GFX0") is None  # PCI nubs do not fall back to the entry name


def test_trailing_star_is_a_prefix_match_returning_the_nub_string() -> None:
    nub = entry("IOPCIDevice", model="ATY,RadeonX1600", name="display")
    assert compare(nub, "ATY*") == "ATY,RadeonX1600"
    assert compare(nub, "NV*") is None


def test_device_type_and_model_are_searched_after_name_and_compatible() -> None:
    nub = entry("IOPlatformDevice", "x", device_type=b"serial\0")
    assert compare(nub, "serial") == "serial"


def test_platform_nub_falls_back_to_entry_name() -> None:
    assert compare(entry("IOPlatformDevice", "bios", IOName="bios"), "bios") == "bios"
    assert compare(entry("IOPlatformExpertDevice", "MacBookPro8,2"), "MacBookPro8,2") is None


def test_acpi_nub_matches_hid_and_cid_as_published() -> None:
    nub = entry("IOACPIPlatformDevice", "PCI0", name=b"PNP0A08\0", compatible=b"PNP0A03\0")
    assert compare(nub, "PNP0A03") == "PNP0A03"
    battery = entry("IOACPIPlatformDevice", "BAT0", _HID="PNP0C0A", _CID=["PNP0C0B"])
    assert compare(battery, "PNP0C0A") == "PNP0C0A"
    assert compare(battery, "PNP0C0B") == "PNP0C0B"
    assert compare(entry("IOACPIPlatformDevice", "boot-ec"), "boot-ec") == "boot-ec"


def test_other_classes_compare_the_entry_name() -> None:
    nub = entry("IOService", "thing", name=b"other\0")
    assert name_comparer_for(nub) is default_compare_name
    assert compare(nub, "thing") == "thing"
    assert compare(nub, "other") is None


def test_merge_provider_properties_into_provider_and_usb_device_above() -> None:
    registry = IORegistry()
    device = entry("IOUSBDevice", "dev")
    interface = entry("IOUSBInterface", "if0")
    registry.attach(device, registry.root, "IOService")
    registry.attach(interface, device, "IOService")
    merged = merge_provider_properties(interface, {
        "IOProviderMergeProperties": {"ClassicMustNotSeize": True},
        "IOProviderParentUSBNubMergeProperties": {"kUSBPreferredConfiguration": 2},
    })
    assert merged == ("ClassicMustNotSeize", "kUSBPreferredConfiguration")
    assert interface.get_property("ClassicMustNotSeize") is True
    assert device.get_property("kUSBPreferredConfiguration") == 2
    assert interface.get_property("kUSBPreferredConfiguration") is None
    assert merge_provider_properties(device, {"IOProviderMergeProperties": "nope"}) == ()
