"""``-a``: the XML plist archive loads with plistlib and mirrors the tree."""

from __future__ import annotations

import plistlib
from typing import Any

from iokit_sdk.service import IOService
from iokit_sdk.values import OSNumber

from iokit_host.ioreg import IoregOptions, render_archive
from iokit_host.ioreg.archive import archive_value
from iokit_host.registry import IORegistry

from .conftest import Maker


def _names(node: dict[str, Any]) -> list[Any]:
    return [node["IORegistryEntryName"],
            [_names(kid) for kid in node.get("IORegistryEntryChildren", [])]]


def test_archive_round_trips_the_tree(registry: IORegistry, make: Maker) -> None:
    pe = make(None, "IOPlatformExpertDevice", name="MacBookPro8,2", busy_ms=5)
    pci = make(pe, "IOPCIDevice", name="ARPT", location="0",
               props={"vendor-id": b"\xe4\x14\x00\x00", "IOProbeScore": OSNumber(-100 & 0xFFFFFFFF, 32),
                      "wide": OSNumber(0xFFFFFFFF, 64), "flags": frozenset({2, 1}),
                      "IONameMatch": ("pci14e4,4331",), "IOPCIResourced": True})
    make(pci, "AirPort_Brcm4331")
    root = plistlib.loads(render_archive(registry, IoregOptions(list_properties=True)))
    assert _names(root) == ["Root", [["MacBookPro8,2", [["ARPT", [["AirPort_Brcm4331", []]]]]]]]
    arpt = root["IORegistryEntryChildren"][0]["IORegistryEntryChildren"][0]
    assert arpt["IORegistryEntryLocation"] == "0"
    assert arpt["IOObjectClass"] == "IOPCIDevice"
    assert arpt["IORegistryEntryID"] == pci.get_registry_entry_id()
    assert arpt["IOServiceState"] == 6 and arpt["IOServiceBusyState"] == 0
    assert arpt["vendor-id"] == b"\xe4\x14\x00\x00"
    assert arpt["IOProbeScore"] == -100  # a 32-bit number is a CF SInt32
    assert arpt["wide"] == 0xFFFFFFFF
    assert arpt["flags"] == [1, 2]
    assert arpt["IONameMatch"] == ["pci14e4,4331"] and arpt["IOPCIResourced"] is True
    assert root["IORegistryEntryChildren"][0]["IOServiceBusyTime"] == 5_000_000
    assert "IOServiceState" not in root and root["IORegistryEntryID"] == 0x100000100


def test_properties_only_when_listed_or_matched(registry: IORegistry, make: Maker) -> None:
    make(None, name="A", props={"k": 1})
    make(None, name="B", props={"k": 2})
    root = plistlib.loads(render_archive(registry, IoregOptions(name="B")))
    a, b = root["IORegistryEntryChildren"]
    assert "k" not in a and b["k"] == 2


def test_root_option_writes_an_array_and_tree_wraps_ancestors(registry: IORegistry,
                                                               make: Maker) -> None:
    pe = make(None, name="PE")
    make(pe, "IOUSBHostDevice", name="Mouse")
    make(pe, "IOUSBHostDevice", name="Keyboard")
    found = plistlib.loads(render_archive(registry, IoregOptions(root=True,
                                                                 class_name="IOUSBHostDevice")))
    assert [n["IORegistryEntryName"] for n in found] == ["Mouse", "Keyboard"]
    wrapped = plistlib.loads(render_archive(registry, IoregOptions(
        root=True, tree=True, name="Keyboard", inheritance=True)))
    assert _names(wrapped[0]) == ["Root", [["PE", [["Keyboard", []]]]]]
    keyboard = wrapped[0]["IORegistryEntryChildren"][0]["IORegistryEntryChildren"][0]
    assert keyboard["IOObjectInheritance"] == ["IORegistryEntry", "IOService", "IOUSBHostDevice"]


def test_depth_limit_drops_children(registry: IORegistry) -> None:
    registry.attach(IOService(name="A"), registry.root, "IOService")
    root = plistlib.loads(render_archive(registry, IoregOptions(depth=1)))
    assert "IORegistryEntryChildren" not in root


def test_a_registry_thousands_deep_is_archived(registry: IORegistry, make: Maker) -> None:
    node = None
    for level in range(2000):
        node = make(node, name=f"n{level}")
    data = render_archive(registry, IoregOptions())
    assert data.count(b"<string>IOService</string>") == 2000
    assert b"<string>n1999</string>" in data


def test_set_members_that_print_alike_are_written_in_one_order() -> None:
    # None of these names has a Mac OS Roman form, so each prints as nothing: the archive is
    # ordered by what else they are, not by how this run hashed them.
    names = ["\u0441\u0436\u0430", "\u2460", "\u4e2d\u6587", "\u00b2", "\u0e44\u0e17\u0e22"]
    assert archive_value(frozenset(names)) == sorted(names)
