"""``ioreg -a`` output (the XML property list) loads as a machine, as its text would."""

from __future__ import annotations

import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from iokit_host.explorer_archive import ArchiveInvalid, parse_archive
from iokit_host.host import IOKitHost
from iokit_host.ioreg import IoregOptions
from iokit_host.ioreg.archive import render_archive
from iokit_host.machine.loader import load_machine


def _booted() -> IOKitHost:
    host = IOKitHost()
    host.boot()
    return host


def test_ioreg_a_of_a_booted_host_loads_with_its_drivers_and_chains(tmp_path: Path) -> None:
    host = _booted()
    data = render_archive(host.registry, IoregOptions(list_properties=True, inheritance=True))
    path = tmp_path / "registry.plist"
    path.write_bytes(data)
    model = load_machine(path)
    service = [entry for _, entry in host.registry.walk("IOService")][1:]
    assert sum(1 for _ in model.nubs()) == len({id(e) for e in service})
    drivers = {nub.class_name for _, nub in model.nubs() if nub.recorded_driver}
    started = {e.class_name() for e in service if e.has_property("IOProviderClass")
               and e.has_property("IOClass")}
    assert drivers == started and drivers
    assert model.classes["IOPCIDevice"] == "IOService"
    recorded = {nub.record.registered for _, nub in model.nubs() if nub.record is not None}
    assert recorded == {True, False}  # user clients and IORootParent are never registered
    assert all(nub.record is not None and nub.record.registered
               for _, nub in model.nubs() if nub.recorded_driver)


def test_ioreg_a_of_the_device_tree_plane_is_a_device_tree_machine() -> None:
    def node(name: str, cls: str, *children: dict[str, object]) -> dict[str, object]:
        return {"IORegistryEntryName": name, "IOObjectClass": cls, "IOServiceState": 0,
                "IORegistryEntryChildren": list(children), "name": name.encode() + b"\0"}

    document = node("Root", "IORegistryEntry", node(
        "device-tree", "IOPlatformExpertDevice", node("cpus", "IOService"),
        node("pci", "IOPlatformDevice", node("mac-io", "IOPCIDevice"))))
    document["IORegistryEntryChildren"][0]["model"] = b"PowerMac3,4\0"  # type: ignore[index]
    model = parse_archive(plistlib.dumps(document), source="dt.plist")
    assert model.name == "powermac3,4"
    assert model.root.children == ()
    assert [e.name for e in model.entries] == ["cpus", "pci", "mac-io"]
    assert all(e.record is not None and not e.record.registered for e in model.entries)


def test_ioreg_a_r_subtrees_load_with_a_warning() -> None:
    subtree = {"IOObjectClass": "IOPlatformExpertDevice", "IORegistryEntryName": "Mac",
               "IORegistryEntryChildren": [{"IOObjectClass": "IOPCIDevice",
                                            "IORegistryEntryName": "GFX0", "vendor-id": -1}]}
    model = parse_archive(plistlib.dumps([subtree]), source="r.plist")
    assert model.root.children[0].properties["vendor-id"] == 0xFFFFFFFF
    assert [d.reference for d in model.diagnostics] == ["ioreg-dump-no-root"]
    assert model.diagnostics[0].key == "entry 1"


def _deep(levels: int) -> list[object]:
    value: list[object] = []
    for _ in range(levels):
        value = [value]
    return value


def test_damaged_entries_are_dropped_alone() -> None:
    document = {"IOObjectClass": "IORegistryEntry", "IORegistryEntryName": "Root",
                "IORegistryEntryChildren": [{
                    "IOObjectClass": "IOPlatformExpertDevice", "IORegistryEntryName": "Mac",
                    "IORegistryEntryChildren": ["junk", {"IOObjectClass": "IOService",
                                                         "when": 0.5, "bad": _deep(200)}]}]}
    model = parse_archive(plistlib.dumps(document), source="d.plist")
    assert len(model.root.children) == 1
    assert model.root.children[0].properties == {"when": "0.5"}
    assert {d.reference for d in model.diagnostics} == {"ioreg-dump-bad-entry",
                                                        "ioreg-dump-bad-value"}
    with pytest.raises(ArchiveInvalid):
        parse_archive(plistlib.dumps(document), source="d.plist", strict=True)


def test_a_nul_in_a_name_or_key_is_damage_that_costs_only_it(tmp_path: Path) -> None:
    # ioreg writes no NUL (names and keys are C strings); a binary plist can hold one. The
    # name loses the NUL, the key its property, and the import writes a model that reads back.
    document = {"IOObjectClass": "IORegistryEntry", "IORegistryEntryName": "Root",
                "IORegistryEntryChildren": [{
                    "IOObjectClass": "IOPlatformExpertDevice", "IORegistryEntryName": "Mac",
                    "IORegistryEntryChildren": [{
                        "IOObjectClass": "IOSer\0vice", "IORegistryEntryName": "a\0b",
                        "k\0": 1, "kept": {"x\0": 2}, "ok": 3}]}]}
    dump = tmp_path / "nul.plist"
    dump.write_bytes(plistlib.dumps(document, fmt=plistlib.FMT_BINARY))
    model = parse_archive(dump.read_bytes(), source=str(dump))
    (nub,) = model.root.children
    assert (nub.name, nub.class_name, dict(nub.properties)) == ("ab", "IOService", {"ok": 3})
    assert {d.reference for d in model.diagnostics} == {"ioreg-dump-nul", "ioreg-dump-bad-value"}
    output = tmp_path / "nul.toml"
    run = subprocess.run([sys.executable, "-m", "iokit_host", "machine", "import", str(dump),
                          "-o", str(output)], check=False, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "\0" not in output.read_text() and "\\u0000" not in output.read_text()


def test_an_entry_named_nothing_keeps_its_empty_name_as_the_text_shows_it() -> None:
    # ioreg -p IODeviceTree prints a partition as ``+-o @1:0  <class IOMedia, ...>``; its
    # archive holds the same empty name, which is no cue to name it after its class.
    def node(name: str | None, cls: str, location: str | None = None,
             *children: dict[str, object]) -> dict[str, object]:
        table: dict[str, object] = {"IOObjectClass": cls, "IOServiceState": 0,
                                    "IORegistryEntryChildren": list(children)}
        if name is not None:
            table["IORegistryEntryName"] = name
        if location is not None:
            table["IORegistryEntryLocation"] = location
        return table

    document = node("Root", "IORegistryEntry", None, node(
        "device-tree", "IOPlatformExpertDevice", None,
        node("", "IOMedia", "1:0"), node(None, "IOMedia", "1:1")))
    model = parse_archive(plistlib.dumps(document), source="dt.plist")
    named_nothing, unnamed = model.entries
    assert (named_nothing.name, named_nothing.location) == ("", "1:0")
    assert unnamed.name != "" and unnamed.location == "1:1"  # no name: its class's


def test_an_edited_id_in_an_archive_is_placed_by_entry_not_by_line() -> None:
    # An archive has no lines: its warnings count entries, and so do the places they name.
    document = {"IOObjectClass": "IORegistryEntry", "IORegistryEntryName": "Root",
                "IORegistryEntryChildren": [{
                    "IOObjectClass": "IOPlatformExpertDevice", "IORegistryEntryName": "Mac",
                    "IORegistryEntryID": 5, "IORegistryEntryChildren": [{
                        "IOObjectClass": "IOService", "IORegistryEntryName": "Dev",
                        "IORegistryEntryID": 5}]}]}
    model = parse_archive(plistlib.dumps(document), source="a.plist")
    (warning,) = model.diagnostics
    assert warning.key == "entry 3"
    assert "(IOPlatformExpertDevice, entry 2)" in warning.message
    assert "line" not in warning.message


@pytest.mark.parametrize(("recorded", "kept"), [
    (1 << 31, (1 << 31) - 1), (1 << 40, (1 << 31) - 1), (-4, 0), (7, 7)])
def test_a_busy_count_past_32_bits_is_held_to_the_largest_and_the_dump_imports(
        recorded: int, kept: int) -> None:
    # IOServiceGetBusyState counts in 32 bits: a larger count (an edited file) made a model
    # that booted but that iokit machine import refused to write.
    from iokit_host.machine import dump_machine, parse_machine

    document = {"IOObjectClass": "IORegistryEntry", "IORegistryEntryName": "Root",
                "IORegistryEntryChildren": [{
                    "IOObjectClass": "IOPlatformExpertDevice", "IORegistryEntryName": "Mac",
                    "IOServiceState": 0, "IOServiceBusyState": 0,
                    "IORegistryEntryChildren": [{
                        "IOObjectClass": "IOService", "IORegistryEntryName": "Dev",
                        "IOServiceState": 0, "IOServiceBusyState": recorded}]}]}
    model = parse_archive(plistlib.dumps(document, fmt=plistlib.FMT_BINARY),
                          source="busy.plist")
    (dev,) = model.root.children
    assert dev.record is not None and dev.record.busy == kept
    parse_machine(dump_machine(model), source="busy.toml")  # what import writes reads back


def test_an_entry_a_binary_file_lists_under_many_parents_is_read_once() -> None:
    # ioreg builds each entry's dictionary anew; a binary file can store one list of 100
    # entries once and list it under 700 parents: 70,000 entries from 60 KB (25 s, 2 GB).
    kids = [{"IOObjectClass": "IOService", "IORegistryEntryName": f"k{n}", "p": n}
            for n in range(10)]
    parents = [{"IOObjectClass": "IOService", "IORegistryEntryName": f"P{n}",
                "IORegistryEntryChildren": kids} for n in range(30)]
    platform = {"IOObjectClass": "IOPlatformExpertDevice", "IORegistryEntryName": "Mac",
                "IORegistryEntryChildren": parents}
    root = {"IOObjectClass": "IORegistryEntry", "IORegistryEntryName": "Root",
            "IORegistryEntryChildren": [platform]}
    model = parse_archive(plistlib.dumps(root, fmt=plistlib.FMT_BINARY), source="a.plist")
    names = [nub.name for _, nub in model.nubs()]
    assert len(names) == 1 + 30 + 10 and names.count("k0") == 1  # under its first parent
    (warning,) = [d for d in model.diagnostics if d.reference == "ioreg-dump-bad-entry"]
    assert warning.context["count"] == 29 * 10 and "listed again" in warning.message
    # The same document in XML holds each entry's own dictionary: all 330 are read.
    xml = parse_archive(plistlib.dumps(root), source="a.plist")
    assert sum(1 for _ in xml.nubs()) == 1 + 30 + 300 and not xml.diagnostics
