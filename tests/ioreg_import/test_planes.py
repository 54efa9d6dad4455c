"""A dump of any plane is told by its top and imports into that plane only: IODeviceTree,
IOACPIPlane, IOUSB, IOPower (``ioreg -p PLANE -l`` as people post it)."""

from __future__ import annotations

import re

import pytest

from iokit_host.explorer_archive import parse_archive
from iokit_host.host import IOKitHost
from iokit_host.ioreg import IoregOptions, render_text
from iokit_host.ioreg_import import parse_dump
from iokit_host.ioreg_import.planes import detect_plane
from iokit_host.ioreg_import.tree import read_tree
from tests.explorer_archive.archivekit import archive_bytes, small_machine


def _booted() -> IOKitHost:
    host = IOKitHost(machine=parse_archive(archive_bytes(small_machine()), source="m.ioreg"))
    host.boot()
    return host


def _shape(text: str) -> list[str]:
    """Each entry line without what a new boot changes (ids, retain counts, state)."""
    return [re.sub(r"  <class ([^,>]+).*", r"  <\1>", line)
            for line in text.splitlines() if "+-o " in line]


@pytest.mark.parametrize("plane", ["IODeviceTree", "IOUSB", "IOService"])
def test_a_plane_dump_reads_back_into_that_plane(plane: str) -> None:
    text = render_text(_booted().registry, IoregOptions(plane=plane, list_properties=True))
    assert detect_plane(read_tree(text, "t")) == plane
    model = parse_dump(text, source=f"{plane}.txt")
    host = IOKitHost(machine=model)
    host.boot()
    again = render_text(host.registry, IoregOptions(plane=plane))
    if plane == "IOService":
        assert _shape(text)[:4] == _shape(again)[:4]
        return
    assert _shape(again) == _shape(text)
    # Nothing was matched on the plane's entries: none sits in the IOService plane.
    assert not [e for e in model.entries if any(l.plane == "IOService" for l in e.planes)]
    assert (plane in model.planes) == (plane == "IOUSB")


def test_power_and_acpi_tops_are_recognised() -> None:
    power = ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
             "  +-o IORootParent  <class IORootParent, id 0x10000012c, !registered, retain 6>\n"
             "    +-o IOPowerConnection  <class IOPowerConnection, id 0x1000002b4, retain 4>\n")
    model = parse_dump(power, source="power.txt")
    assert "IOPower plane" in model.description and model.name == "power"
    assert [e.class_name for e in model.entries] == ["IORootParent", "IOPowerConnection"]
    acpi = ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
            "  +-o acpi  <class IOPlatformExpertDevice, id 0x100000101, registered, retain 9>\n"
            "    +-o _SB  <class IOACPIPlatformDevice, id 0x1000002b3, retain 18>\n")
    model = parse_dump(acpi, source="acpi.txt")
    assert "IOACPIPlane plane" in model.description
    assert model.planes == ("IOACPIPlane",)
    assert model.root.planes[0].plane == "IOACPIPlane" and model.entries[0].name == "_SB"
