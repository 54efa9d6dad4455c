"""Every IORegistryExplorer archive in the corpus imports with all its planes, its recorded
chains and state, boots, and prints each plane as the Mac had it."""

from __future__ import annotations

import plistlib
from pathlib import Path

import pytest

from iokit_host.explorer_archive import import_archive
from iokit_host.host import IOKitHost
from iokit_host.ioreg import IoregOptions, render_text


def _archives(corpus: Path) -> list[Path]:
    found = sorted((corpus / "archives").glob("*.ioreg"))
    if not found:
        pytest.skip("no archives in the corpus")
    return found


def _recorded(path: Path) -> tuple[int, dict[str, int]]:
    """What the file itself says: entries, and entries linked in each plane (read plainly)."""
    objects = plistlib.loads(path.read_bytes())["$objects"]
    entries = [o for o in objects if isinstance(o, dict) and "inheritance" in o]
    planes: dict[str, int] = {}
    for entry in entries:
        for key in objects[entry["parentsInPlanes"].data]["NS.keys"]:
            planes[objects[key.data]] = planes.get(objects[key.data], 0) + 1
    return len(entries), planes


def test_every_archive_imports_every_entry_of_every_plane(corpus: Path) -> None:
    for path in _archives(corpus):
        model = import_archive(path)
        count, planes = _recorded(path)
        assert not model.diagnostics
        # Root is the registry root; every other entry is a nub or a plane-only entry.
        assert sum(1 for _ in model.nubs()) + len(model.entries) == count - 1
        linked: dict[str, set[str | None]] = {}
        for _, nub in model.nubs():
            linked.setdefault("IOService", set()).add(nub.id)
        for spec in [nub for _, nub in model.nubs()] + list(model.entries):
            for link in spec.planes:  # an entry with several parents there counts once
                linked.setdefault(link.plane, set()).add(spec.id)
        assert {plane: len(ids) for plane, ids in linked.items()} == planes
        assert {"IOACPIPlane", "IOUSB"} <= set(model.planes)


def test_archive_keeps_chains_state_bundles_and_typed_properties(corpus: Path) -> None:
    path = next(p for p in _archives(corpus) if "MacBookPro10,2" in p.name)
    model = import_archive(path)
    assert model.name == "macbookpro10,2"
    assert model.root_properties["OS Build Version"] == "12C2034"
    assert model.classes["AppleACPIPlatformExpert"] == "IOACPIPlatformExpert"
    assert model.classes["IOPCIDevice"] == "IOService"
    nubs = {nub.name: nub for _, nub in model.nubs()}
    ehc1 = nubs["EHC1"]
    assert ehc1.class_name == "IOPCIDevice" and ehc1.location == "1D"
    assert ehc1.properties["vendor-id"] == bytes.fromhex("86800000")
    assert ehc1.properties["IOPCIResourced"] is True
    assert ehc1.properties["USBBusNumber"] == 29
    assert ehc1.record is not None and ehc1.record.bundle_id == "com.apple.iokit.IOPCIFamily"
    assert {link.plane for link in ehc1.planes} == {"IODeviceTree", "IOPower"}
    drivers = [nub for _, nub in model.nubs() if nub.recorded_driver]
    assert any(d.class_name == "AppleACPIPlatformExpert" for d in drivers)
    unregistered = [e for e in model.entries if e.record is not None and not e.record.registered]
    assert unregistered  # device-tree nodes such as ``chosen``


def test_archive_boots_and_ioreg_prints_every_plane(corpus: Path) -> None:
    path = next(p for p in _archives(corpus) if "MacBookPro10,2" in p.name)
    host = IOKitHost(machine=str(path))
    host.boot()
    tree = render_text(host.registry, IoregOptions(plane="IODeviceTree"))
    assert tree.splitlines()[1].startswith("  +-o /  <class IOPlatformExpertDevice")
    assert "+-o chosen  <class IOService" in tree and "!registered" in tree
    acpi = render_text(host.registry, IoregOptions(plane="IOACPIPlane"))
    assert acpi.splitlines()[1].startswith("  +-o acpi  <class IOPlatformExpertDevice")
    assert "+-o _SB  <class IOACPIPlatformDevice" in acpi
    usb = render_text(host.registry, IoregOptions(plane="IOUSB"))
    assert "FaceTime HD Camera (Built-in)@1a110000  <class IOUSBDevice" in usb
    power = render_text(host.registry, IoregOptions(plane="IOPower"))
    assert "+-o IOPowerConnection  <class IOPowerConnection" in power
    chains = render_text(host.registry, IoregOptions(inheritance=True, state=False))
    assert ("AppleACPIPlatformExpert  <class IORegistryEntry:IOService:IOPlatformExpert:"
            "IODTPlatformExpert:IOACPIPlatformExpert:AppleACPIPlatformExpert>") in chains
