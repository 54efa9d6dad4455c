"""Registry paths: ``Plane:/a/b@loc`` built and resolved as ``getPath``/``fromPath``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from iokit_sdk.entry import IORegistryEntry

from iokit_host.registry import IORegistry, PathError, from_path, get_path, locations_equal


@pytest.fixture
def tree() -> tuple[IORegistry, dict[str, IORegistryEntry]]:
    registry = IORegistry()
    nodes = {
        "pe": IORegistryEntry(name="MacBookPro8,2"),
        "ape": IORegistryEntry(name="AppleACPIPlatformExpert"),
        "pci0": IORegistryEntry(name="PCI0", location="0"),
        "lpc": IORegistryEntry(name="LPCB", location="1F"),
        "sbus": IORegistryEntry(name="SBUS", location="1F,3"),
    }
    registry.attach(nodes["pe"], registry.root, "IOService")
    registry.attach(nodes["ape"], nodes["pe"], "IOService")
    registry.attach(nodes["pci0"], nodes["ape"], "IOService")
    registry.attach(nodes["lpc"], nodes["pci0"], "IOService")
    registry.attach(nodes["sbus"], nodes["pci0"], "IOService")
    return registry, nodes


def test_get_path_is_relative_to_the_plane_root(tree) -> None:  # type: ignore[no-untyped-def]
    registry, nodes = tree
    assert get_path(registry, nodes["pe"], "IOService") == "IOService:/"
    assert get_path(registry, nodes["sbus"], "IOService") == \
        "IOService:/AppleACPIPlatformExpert/PCI0@0/SBUS@1F,3"
    assert get_path(registry, nodes["sbus"], "IODeviceTree") is None


@pytest.mark.parametrize(("path", "key"), [
    ("IOService:/AppleACPIPlatformExpert/PCI0@0/SBUS@1F,3", "sbus"),
    ("IOService:/AppleACPIPlatformExpert/PCI0@0/SBUS@1f,3", "sbus"),
    ("IOService:/AppleACPIPlatformExpert/PCI0@0/SBUS@01f,3", "sbus"),
    ("IOService:/AppleACPIPlatformExpert/PCI0/@1F,3", "sbus"),  # only @loc: any name
    ("IOService:/AppleACPIPlatformExpert/PCI0@0/@1f", "lpc"),
    ("IOService:/AppleACPIPlatformExpert/PCI0", "pci0"),
    ("IOService:/", "pe"),
])
def test_from_path_finds(tree, path: str, key: str) -> None:  # type: ignore[no-untyped-def]
    registry, nodes = tree
    assert from_path(registry, path) is nodes[key]


@pytest.mark.parametrize("path", [
    "IOService:/AppleACPIPlatformExpert/PCI0@1",
    "IOService:/AppleACPIPlatformExpert/PCI",  # a name prefix is not a name
    "IOService:/AppleACPIPlatformExpert/PCI0@0/SBUS@1F,4",
    "IOService:/Nothing",
])
def test_from_path_misses(tree, path: str) -> None:  # type: ignore[no-untyped-def]
    registry, _ = tree
    assert from_path(registry, path) is None


def test_from_path_needs_a_known_plane(tree) -> None:  # type: ignore[no-untyped-def]
    registry, nodes = tree
    with pytest.raises(PathError):
        from_path(registry, "/AppleACPIPlatformExpert")
    with pytest.raises(PathError):
        from_path(registry, "IOBogus:/")
    assert from_path(registry, "/AppleACPIPlatformExpert", plane="IOService") is nodes["ape"]


def test_every_entry_resolves_from_its_own_path(tree) -> None:  # type: ignore[no-untyped-def]
    registry, nodes = tree
    for entry in nodes.values():
        assert from_path(registry, get_path(registry, entry, "IOService") or "") is entry


def test_locations_compare_as_hex_components() -> None:
    assert locations_equal("1F,3", "001f,03")
    assert locations_equal("1c0001", "1C0001")
    assert not locations_equal("1F", "1F,0")
    assert not locations_equal(None, "0")
    assert locations_equal("slot-x", "slot-x") and not locations_equal("slot-x", "slot-y")


@given(st.text(max_size=30))
def test_from_path_raises_only_path_errors(path: str) -> None:
    registry = IORegistry()
    registry.attach(IORegistryEntry(name="x", location="1"), registry.root, "IOService")
    try:
        from_path(registry, path, plane="IOService")
    except PathError:
        pass


def test_an_entrys_own_get_path_is_the_registrys_path() -> None:
    from iokit_host.host import IOKitHost

    host = IOKitHost(kexts=[])  # the default machine's nubs, no drivers
    host.boot()
    for _, entry in list(host.registry.walk("IOService"))[:60]:
        assert entry.get_path() == get_path(host.registry, entry, "IOService")
    assert IORegistryEntry(name="loose").get_path() is None
