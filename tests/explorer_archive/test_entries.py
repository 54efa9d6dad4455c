"""An archive's links are held to an archive-wide budget: a binary archive stores an array
once however many entries name it, so a file of kilobytes could give thousands of entries
thousands of links each."""

from __future__ import annotations

import plistlib
import time
from typing import Any

import pytest

from iokit_host.explorer_archive import ArchiveInvalid, entries, parse_archive
from tests.explorer_archive.archivekit import Entry, archive_bytes, small_machine


def _sharing(count: int) -> bytes:
    """The small machine and ``count`` devices below its platform device, each of which names
    one array of parents (in IOService and IODeviceTree): every device, itself included."""
    devices = [Entry(f"dev{n}", ["IOService", "IORegistryEntry"],
                     parents={"IOService": ["Mac-1"]}) for n in range(count)]
    document = plistlib.loads(archive_bytes([*small_machine(), *devices]))
    objects: list[Any] = document["$objects"]
    slots = [plistlib.UID(i) for i, o in enumerate(objects)
             if isinstance(o, dict) and "inheritance" in o
             and str(objects[o["name"].data]).startswith("dev")]
    array_class = objects[objects[slots[0].data]["inheritance"].data]["$class"]
    dict_class = objects[objects[slots[0].data]["parentsInPlanes"].data]["$class"]

    def add(value: Any) -> plistlib.UID:
        objects.append(value)
        return plistlib.UID(len(objects) - 1)

    every = add({"NS.objects": slots, "$class": array_class})
    shared = add({"NS.keys": [add("IOService"), add("IODeviceTree")],
                  "NS.objects": [every, every], "$class": dict_class})
    for slot in slots:
        objects[slot.data]["parentsInPlanes"] = shared
    return plistlib.dumps(document, fmt=plistlib.FMT_BINARY)


def test_links_past_the_archive_budget_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(entries, "MAX_LINKS", 400)
    model = parse_archive(_sharing(30), source="shared.ioreg")
    (warning,) = [d for d in model.diagnostics if d.reference == "ioreg-archive-too-many-links"]
    assert "past the archive's first 400" in warning.message
    assert warning.key is not None and ".parentsInPlanes." in warning.key
    assert warning.file == "shared.ioreg" and warning.hint
    assert model.root.class_name == "IOPlatformExpertDevice"  # the rest imports
    with pytest.raises(ArchiveInvalid, match="past the archive's first 400"):
        parse_archive(_sharing(30), source="shared.ioreg", strict=True)


def test_an_array_of_links_thousands_of_entries_share_imports_in_seconds() -> None:
    # 2,000 entries naming one array of 2,000 parents (a 1 MB file, most of it the entries):
    # eight million links, each loop among them searched along a path thousands long; it did
    # not end in minutes (1,000 such entries in a 110 KB file took 33 s).
    data = _sharing(2000)
    started = time.process_time()
    model = parse_archive(data, source="shared.ioreg")
    assert time.process_time() - started < 20
    kinds = {d.reference for d in model.diagnostics}
    assert kinds == {"ioreg-archive-too-many-links", "ioreg-archive-bad-link"}


def test_real_archives_hold_far_fewer_links_than_the_budget() -> None:
    # The budget is not what limits a real registry: about 1.3 parents an entry.
    assert entries.MAX_LINKS >= 4 * entries.MAX_ENTRIES


def _devices(count: int) -> tuple[dict[str, Any], list[Any], list[dict[str, Any]]]:
    """The small machine's archive with ``count`` devices below its platform device: the
    document, its ``$objects`` and the devices' records."""
    devices = [Entry(f"dev{n}", ["IOService", "IORegistryEntry"],
                     parents={"IOService": ["Mac-1"]}) for n in range(count)]
    document = plistlib.loads(archive_bytes([*small_machine(), *devices]))
    objects: list[Any] = document["$objects"]
    records = [o for o in objects if isinstance(o, dict) and "inheritance" in o
               and str(objects[o["name"].data]).startswith("dev")]
    return document, objects, records


def _one_chain(count: int, chain: list[str]) -> bytes:
    """The small machine and ``count`` devices below its platform device that all name one
    array as their class chain: ``chain``, then IOService, IORegistryEntry and OSObject."""
    document, objects, records = _devices(count)
    shared = records[0]["inheritance"]
    names = [*chain, "IOService", "IORegistryEntry", "OSObject"]
    objects[shared.data]["NS.objects"] = [plistlib.UID(len(objects) + n)
                                          for n in range(len(names))]
    objects.extend(names)
    for record in records:
        record["inheritance"] = shared
    return plistlib.dumps(document, fmt=plistlib.FMT_BINARY)


def test_a_class_chain_thousands_of_entries_share_is_read_once() -> None:
    # 2,000 entries naming one chain of 20,000 classes (a 1 MB file): read once an entry,
    # and its links taken once an entry, it took minutes (1,000 x 10,000: 7 s).
    chain = [f"C{n}" for n in range(20_000)]
    started = time.process_time()
    model = parse_archive(_one_chain(2000, chain), source="chain.ioreg")
    assert time.process_time() - started < 20
    devices = [nub for _, nub in model.nubs() if (nub.name or "").startswith("dev")]
    assert len(devices) == 2000 and {nub.class_name for nub in devices} == {"C0"}
    assert model.classes["C0"] == "C1"
    (warning,) = [d for d in model.diagnostics if d.reference == "ioreg-archive-bad-class-chain"]
    assert "more than 256 classes long" in warning.message  # as for one such entry


def test_an_unreadable_chain_many_entries_share_drops_each_of_them() -> None:
    model = parse_archive(_one_chain(5, ["AppleThing", ""]), source="chain.ioreg")
    assert not [nub for _, nub in model.nubs() if (nub.name or "").startswith("dev")]
    (warning,) = [d for d in model.diagnostics if d.reference == "ioreg-archive-bad-entry"]
    assert warning.context["count"] == 5 and "empty name" in warning.message
    assert warning.key is not None and warning.key.endswith(".inheritance[1]")


def _one_table_of_planes(count: int, planes: int) -> bytes:
    """The small machine and ``count`` devices that all name one table of ``planes`` plane
    names (``P0``, ``P1``, ...) as their names in planes, and as their locations."""
    document, objects, records = _devices(count)
    table = records[0]["namesInPlanes"]
    keys = [plistlib.UID(len(objects) + n) for n in range(planes)]
    objects.extend(f"P{n}" for n in range(planes))
    objects.append("name-there")
    objects[table.data]["NS.keys"] = keys
    objects[table.data]["NS.objects"] = [plistlib.UID(len(objects) - 1)] * planes
    for record in records:
        record["namesInPlanes"] = record["locationsInPlanes"] = table
    return plistlib.dumps(document, fmt=plistlib.FMT_BINARY)


def test_a_table_of_thousands_of_planes_many_entries_share_keeps_its_first() -> None:
    # 1,000 entries naming one table of 10,000 planes (400 KB) took 30 s and 425 MB.
    started = time.process_time()
    model = parse_archive(_one_table_of_planes(1000, 10_000), source="planes.ioreg")
    assert time.process_time() - started < 20
    (warning,) = [d for d in model.diagnostics if d.reference == "ioreg-archive-bad-field"]
    assert warning.context["count"] == 2000  # names and locations, of each entry
    assert "10000 planes, more than the 64" in warning.message
    assert warning.key is not None and warning.key.endswith(".namesInPlanes")


def test_an_entry_of_a_registrys_planes_keeps_them_all() -> None:
    model = parse_archive(_one_table_of_planes(3, entries.MAX_PLANES), source="planes.ioreg")
    assert not [d for d in model.diagnostics if d.reference == "ioreg-archive-bad-field"]


def test_a_name_longer_than_iokit_gives_costs_the_entry_only_its_name() -> None:
    # io_name_t holds 127 bytes: 2,000 entries sharing a name of 100 KB (560 KB) made a
    # machine file of 200 MB.
    document = plistlib.loads(archive_bytes(small_machine()))
    objects: list[Any] = document["$objects"]
    gfx = next(o for o in objects if isinstance(o, dict) and "inheritance" in o
               and objects[o["name"].data] == "GFX0")
    objects[gfx["name"].data] = "N" * 100_000
    model = parse_archive(plistlib.dumps(document, fmt=plistlib.FMT_BINARY), source="x.ioreg")
    (pci,) = [nub for _, nub in model.nubs() if nub.class_name == "IOPCIDevice"]
    assert pci.name is None  # its class's name stands in, as for any damaged name
    (warning,) = [d for d in model.diagnostics if d.reference == "ioreg-archive-bad-field"]
    assert "longer than the 127 bytes" in warning.message
    assert warning.key is not None and warning.key.endswith(".name")


def test_a_name_holding_a_nul_costs_the_entry_only_its_name() -> None:
    # An io_name_t ends at its first NUL: no IOKitLib gives one, and ioreg printed it raw.
    document = plistlib.loads(archive_bytes(small_machine()))
    objects: list[Any] = document["$objects"]
    gfx = next(o for o in objects if isinstance(o, dict) and "inheritance" in o
               and objects[o["name"].data] == "GFX0")
    objects[gfx["name"].data] = "GF\0X0"
    model = parse_archive(plistlib.dumps(document, fmt=plistlib.FMT_BINARY), source="x.ioreg")
    (pci,) = [nub for _, nub in model.nubs() if nub.class_name == "IOPCIDevice"]
    assert pci.name is None
    (warning,) = [d for d in model.diagnostics if d.reference == "ioreg-archive-bad-field"]
    assert "NUL" in warning.message and warning.key is not None
    assert warning.key.endswith(".name")


def test_a_class_name_longer_than_iokit_gives_drops_the_entries_naming_it() -> None:
    # IOObjectGetClass gives an io_name_t: a chain of one 100 KB class that 2,000 entries
    # share would be written once a nub.
    model = parse_archive(_one_chain(3, ["C" * 100_000]), source="chain.ioreg")
    assert not [nub for _, nub in model.nubs() if (nub.name or "").startswith("dev")]
    (warning,) = [d for d in model.diagnostics if d.reference == "ioreg-archive-bad-entry"]
    assert warning.context["count"] == 3 and "longer than the 127 bytes" in warning.message
