"""A damaged archive imports with only the damage lost, one warning per kind naming the object
and key; strict refuses it; a file that is no archive is refused naming file and reason."""

from __future__ import annotations

import plistlib
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.explorer_archive import ArchiveInvalid, parse_archive
from tests.explorer_archive.archivekit import archive_bytes, small_machine


def _document() -> dict[str, Any]:
    return plistlib.loads(archive_bytes(small_machine()))


def _entry(document: dict[str, Any], name: str) -> dict[str, Any]:
    objects = document["$objects"]
    return next(o for o in objects if isinstance(o, dict) and "inheritance" in o
                and objects[o["name"].data] == name)


def _load(document: dict[str, Any], *, strict: bool = False) -> Any:
    return parse_archive(plistlib.dumps(document, fmt=plistlib.FMT_BINARY), source="x.ioreg",
                         strict=strict)


def test_unreadable_properties_lose_only_those_properties() -> None:
    document = _document()
    entry = _entry(document, "GFX0")
    document["$objects"][entry["properties"].data] = b"<plist><dict><key>a</key>"
    model = _load(document)
    gfx = model.root.children[0]
    assert gfx.properties == {} and len(gfx.children) == 2
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-archive-bad-properties"
    assert warning.key is not None and warning.key.endswith(".properties")
    assert warning.file == "x.ioreg"


@pytest.mark.parametrize("damage", [5, True, b"GFX0", plistlib.UID(10**6)],
                         ids=["number", "boolean", "data", "missing-object"])
def test_an_unreadable_name_costs_the_entry_only_its_name(damage: Any) -> None:
    """A name of the wrong type dropped the entry and its subtree (the platform entry's: the
    whole archive refused, its error pointing elsewhere). The entry's name in its plane, or
    its class, stands in, with a warning naming the field."""
    document = _document()
    entry = _entry(document, "GFX0")
    entry["name"] = damage
    model = _load(document)
    gfx = model.root.children[0]
    assert len(gfx.children) == 2  # its subtree kept
    assert gfx.name in ("GFX0", None)  # None: named by its class
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-archive-bad-field" and (warning.key or "").endswith(
        ".name")


def test_entry_without_a_class_is_dropped_with_its_links() -> None:
    document = _document()
    _entry(document, "Hub")["inheritance"] = plistlib.UID(0)
    model = _load(document)
    assert [child.class_name for child in model.root.children[0].children] == [
        "AppleIntelFramebuffer"]
    assert {d.reference for d in model.diagnostics} == {"ioreg-archive-bad-entry",
                                                         "ioreg-archive-bad-link"}


def test_reference_past_the_objects_is_a_dropped_link() -> None:
    document = _document()
    objects = document["$objects"]
    gfx = _entry(document, "GFX0")
    children = objects[gfx["childrenInPlanes"].data]
    objects[children["NS.objects"][0].data]["NS.objects"].append(plistlib.UID(10**6))
    model = _load(document)
    assert len(model.root.children[0].children) == 2
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-archive-bad-link" and "past the" in warning.message


def test_a_dictionary_with_more_values_than_keys_says_so() -> None:
    # The reason read "expected a dictionary, found a dictionary" for this damage.
    document = _document()
    objects = document["$objects"]
    gfx = _entry(document, "GFX0")
    children = objects[gfx["childrenInPlanes"].data]
    children["NS.objects"].append(children["NS.objects"][0])
    model = _load(document)
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-archive-bad-link"
    assert "a dictionary of 1 keys and 2 values" in warning.message


def test_a_link_that_loops_is_dropped() -> None:
    document = _document()
    objects = document["$objects"]
    # GFX0 also below its own child, in IODeviceTree: the registry would refuse the loop.
    gfx, hub = _entry(document, "GFX0"), _entry(document, "Hub")
    hub_uid = next(plistlib.UID(i) for i, o in enumerate(objects) if o is hub)
    links = objects[gfx["parentsInPlanes"].data]
    dt = next(i for i, k in enumerate(links["NS.keys"]) if objects[k.data] == "IODeviceTree")
    objects[links["NS.objects"][dt].data]["NS.objects"].append(hub_uid)
    hub_links = objects[hub["parentsInPlanes"].data]
    hub_links["NS.keys"].append(links["NS.keys"][dt])
    hub_links["NS.objects"].append(links["NS.objects"][dt])  # Hub below GFX0's DT parents
    objects[links["NS.objects"][dt].data]["NS.objects"].append(hub_uid)
    model = _load(document)
    assert any(d.reference == "ioreg-archive-bad-link" for d in model.diagnostics)


def test_strict_refuses_the_first_damage() -> None:
    document = _document()
    _entry(document, "Hub")["busyCount"] = "many"
    assert _load(document).diagnostics[0].reference == "ioreg-archive-bad-field"
    with pytest.raises(ArchiveInvalid) as caught:
        _load(document, strict=True)
    assert caught.value.diagnostic.key is not None
    assert caught.value.diagnostic.key.endswith(".busyCount")


@pytest.mark.parametrize(("data", "words"), [
    (b"bplist00garbage", "not a readable property list"),
    (plistlib.dumps({"$archiver": "NSKeyedArchiver", "$objects": []}), "$objects"),
    (plistlib.dumps({"something": "else"}), "neither"),
    (plistlib.dumps({"$archiver": "NSKeyedArchiver", "$objects": ["$null"], "$top": {}}),
     "no readable registry entry"),
])
def test_what_is_no_archive_is_refused_by_name(data: bytes, words: str) -> None:
    with pytest.raises(ArchiveInvalid) as caught:
        parse_archive(data, source="bad.ioreg")
    diagnostic = caught.value.diagnostic
    assert diagnostic.reference == "ioreg-archive-invalid" and diagnostic.file == "bad.ioreg"
    assert words in str(diagnostic)


def test_a_self_referencing_binary_plist_is_refused_not_recursed() -> None:
    # Object 1 is an array whose one item is itself: plistlib would build a cycle.
    objects = [b"\xa1\x01"]  # array of 1, ref 1 -> itself
    offsets, body = [], b""
    offsets.append(8 + len(body))
    body += b"\x10\x00"  # object 0: int 0
    offsets.append(8 + len(body))
    body += objects[0]
    table = bytes(offsets)
    trailer = (b"\x00" * 6 + bytes([1, 1]) + (2).to_bytes(8, "big") + (1).to_bytes(8, "big")
               + (8 + len(body)).to_bytes(8, "big"))
    data = b"bplist00" + body + table + trailer
    with pytest.raises(ArchiveInvalid) as caught:
        parse_archive(data, source="loop.ioreg")
    assert caught.value.diagnostic.file == "loop.ioreg"


def test_an_archive_saved_as_xml_and_cut_short_keeps_the_entries_before_the_cut() -> None:
    data = archive_bytes(small_machine(), fmt=plistlib.FMT_XML)
    whole = {nub.id for _, nub in parse_archive(data).nubs()}
    kept = []
    for cut in range(len(data) // 2, len(data), len(data) // 20):
        model = parse_archive(data[:cut], source="cut.ioreg")  # $top, after $objects, is lost
        ids = {nub.id for _, nub in model.nubs()}
        assert ids <= whole
        references = {d.reference for d in model.diagnostics}
        assert "ioreg-dump-xml-broken" in references and all(
            reference.startswith(("ioreg-archive-", "ioreg-dump-")) for reference in references)
        kept.append(len(ids))
    assert kept == sorted(kept) and kept[-1] == len(whole)  # the later the cut, the more kept
    with pytest.raises(ArchiveInvalid, match="breaks at line"):
        parse_archive(data[:len(data) // 2], source="cut.ioreg", strict=True)


def test_a_class_chain_longer_than_any_of_iokits_costs_only_the_link_that_overruns() -> None:
    """An entry's chain of 300 classes was kept as recorded, and the imported model's reader
    refused the whole machine for it; the link that overruns IOKit's chains (256 classes)
    is left out, the rest kept, and the model reads back."""
    from iokit_host.machine import dump_machine, parse_machine
    from tests.explorer_archive.archivekit import Entry

    entries = [*small_machine(), Entry("Deep", [*(f"C{i}" for i in range(300)), "IOService",
                                                "IORegistryEntry"],
                                       parents={"IOService": ["Mac-1"]})]
    model = parse_archive(archive_bytes(entries), source="mac.ioreg")
    (found,) = [d for d in model.diagnostics if d.reference == "ioreg-archive-bad-class-chain"]
    assert "would make the class chain of C0 more than 256 classes long" in found.message
    assert model.classes["C0"] == "C1" and model.classes["C299"] == "IOService"
    again = parse_machine(dump_machine(model), source="mac.toml")
    assert dict(again.classes) == dict(model.classes)
    assert [nub.name for _, nub in again.nubs()][-1] == "Deep"


@pytest.mark.parametrize(("recorded", "kept"), [(1 << 31, (1 << 31) - 1),
                                                (1 << 40, (1 << 31) - 1), (5, 5)])
def test_a_busy_count_past_32_bits_is_held_to_the_largest(recorded: int, kept: int) -> None:
    # A model holds a 32-bit busy count: 2**31 booted but was refused by machine import.
    from iokit_host.machine import dump_machine, parse_machine

    document = _document()
    _entry(document, "AppleIntelFramebuffer")["busyCount"] = recorded
    model = _load(document)
    driver = model.root.children[0].children[0]
    assert driver.record is not None and driver.record.busy == kept
    parse_machine(dump_machine(model), source="x.toml")  # what import writes reads back


def test_links_in_a_plane_with_no_name_are_dropped_alone() -> None:
    # IORegistryEntry::makePlane takes a name: boot refused the plane, import another way.
    from iokit_host.machine import dump_machine, parse_machine

    document = _document()
    objects = document["$objects"]
    hub = _entry(document, "Hub")
    links = objects[hub["parentsInPlanes"].data]
    plane_key = next(k for k in links["NS.keys"] if objects[k.data] == "IOUSB")
    objects[plane_key.data] = ""
    model = _load(document)
    assert "" not in model.planes
    assert all(link.plane for _, nub in model.nubs() for link in nub.planes)
    (warning,) = [d for d in model.diagnostics if d.reference == "ioreg-archive-bad-link"]
    assert "no name" in warning.message and warning.key is not None
    parse_machine(dump_machine(model), source="x.toml")


def _pointed_at_itself(data: bytes, sentinel: str) -> bytes:
    """``data`` with the array that refers to the string ``sentinel`` referring to itself
    there instead: a damaged reference no writer makes (``plistlib`` cannot write a cycle)."""
    offset_size, ref_size, count, _, table = struct.unpack(">6xBBQQQ", data[-32:])
    offsets = [int.from_bytes(data[table + n * offset_size:table + (n + 1) * offset_size],
                              "big") for n in range(count)]
    wanted = bytes([0x50 | len(sentinel)]) + sentinel.encode()
    target = next(n for n, at in enumerate(offsets) if data[at:at + len(wanted)] == wanted)
    patched = bytearray(data)
    for number, at in enumerate(offsets):
        if data[at] & 0xF0 == 0xA0 and data[at] & 0x0F != 0x0F:
            for item in range(data[at] & 0x0F):
                place = at + 1 + item * ref_size
                if int.from_bytes(data[place:place + ref_size], "big") == target:
                    patched[place:place + ref_size] = number.to_bytes(ref_size, "big")
                    return bytes(patched)
    raise AssertionError("no array refers to the sentinel")


def test_an_array_that_contains_itself_loses_only_itself() -> None:
    # One damaged reference made an array of a 1.7 MB archive contain itself: the whole
    # archive was refused (ioreg-archive-invalid, "contains itself (a cycle)").
    document = _document()
    hub = _entry(document, "Hub")
    chain = document["$objects"][hub["inheritance"].data]["NS.objects"]
    chain.append("cycle-here")
    data = _pointed_at_itself(plistlib.dumps(document, fmt=plistlib.FMT_BINARY), "cycle-here")
    model = parse_archive(data, source="x.ioreg")
    kept = [nub.class_name for _, nub in model.nubs()]
    assert kept == ["IOPlatformExpertDevice", "IOPCIDevice", "AppleIntelFramebuffer",
                    "RootDomainUserClient"]  # all but the entry whose chain it was
    warning = model.diagnostics[0]
    assert warning.reference == "ioreg-archive-bad-entry" and "contains itself" in warning.message
    with pytest.raises(ArchiveInvalid):
        parse_archive(data, source="x.ioreg", strict=True)


def test_an_unreadable_root_loses_only_itself() -> None:
    # The root entry's object damaged (here: no entry at all): the whole archive was refused
    # ("the archive holds no registry root") though the machine below it read whole.
    document = _document()
    whole = [nub.class_name for _, nub in _load(document).nubs()]
    root = _entry(document, "Root")
    document["$objects"][document["$objects"].index(root)] = "not an entry"
    model = _load(document)
    assert [nub.class_name for _, nub in model.nubs()] == whole
    found = {d.reference: d for d in model.diagnostics}
    # Counted twice: the object that is no entry, and the root made up in its place.
    assert found["ioreg-archive-bad-entry"].message.startswith(
        "registry entries that cannot be read (no name or class chain, or not an entry at "
        "all): 2,")
    with pytest.raises(ArchiveInvalid):
        _load(document, strict=True)


def _objects_header(data: bytes) -> tuple[int, int]:
    """Where the ``$objects`` array of a binary archive begins, and its header's length."""
    offset_size, ref_size, _, top, table = struct.unpack(">6xBBQQQ", data[-32:])

    def offset(ref: int) -> int:
        at = table + ref * offset_size
        return int.from_bytes(data[at:at + offset_size], "big")

    def ref(at: int) -> int:
        return int.from_bytes(data[at:at + ref_size], "big")

    def sized(at: int) -> tuple[int, int]:  # an object's count and where its body begins
        if data[at] & 0x0F != 0x0F:
            return data[at] & 0x0F, at + 1
        width = 1 << (data[at + 1] & 0x0F)
        return int.from_bytes(data[at + 2:at + 2 + width], "big"), at + 2 + width

    pairs, body = sized(offset(top))
    for number in range(pairs):
        key_count, key_body = sized(offset(ref(body + number * ref_size)))
        if data[key_body:key_body + key_count] == b"$objects":
            start = offset(ref(body + (pairs + number) * ref_size))
            return start, sized(start)[1] - start
    raise AssertionError("no $objects")


def test_an_archive_whose_object_list_is_damaged_is_read_through_its_bytes() -> None:
    # One changed byte (the marker of the array every reference indexes) refused a 1.7 MB
    # archive whole ("$objects: missing or not an array"); its references are all still there.
    data = archive_bytes(small_machine())
    start, _ = _objects_header(data)
    damaged = data[:start] + b"\x7f" + data[start + 1:]  # no plist object begins with 0x7f
    whole, model = parse_archive(data, source="x.ioreg"), parse_archive(damaged, source="x.ioreg")
    assert [n.name for _, n in model.nubs()] == [n.name for _, n in whole.nubs()]
    assert model.entries == whole.entries and model.planes == whole.planes
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-archive-objects-salvaged" and "$objects" in warning.message
    with pytest.raises(ArchiveInvalid, match=r"\$objects"):
        parse_archive(damaged, source="x.ioreg", strict=True)


def test_an_object_list_whose_first_reference_is_lost_too_is_refused_not_guessed() -> None:
    data = archive_bytes(small_machine())
    start, header = _objects_header(data)
    damaged = data[:start] + b"\x7f" * (header + 1) + data[start + header + 1:]
    with pytest.raises(ArchiveInvalid, match=r"\$objects: missing or not an array"):
        parse_archive(damaged, source="x.ioreg")


def _with_count(data: bytes, count: int) -> bytes:
    """``data`` with its ``$objects`` array's count (its marker intact) made ``count``."""
    start, header = _objects_header(data)
    assert header > 1, "the test machine's object list has a count after its marker"
    return data[:start + 2] + count.to_bytes(header - 2, "big") + data[start + header:]


@pytest.mark.parametrize("change", [-1, 1, -100, 100, -130])
def test_an_object_list_whose_count_is_damaged_is_read_through_its_bytes(change: int) -> None:
    # Its marker intact, a damaged count was believed: the array took in the next objects'
    # bytes as references, or lost its last ones, and the archive gave a warning of every
    # kind (bad entries, fields, links, properties) or a refusal about the root's children.
    data = archive_bytes(small_machine())
    start, header = _objects_header(data)
    count = int.from_bytes(data[start + 2:start + header], "big")
    damaged = _with_count(data, count + change)
    whole, model = parse_archive(data, source="x.ioreg"), parse_archive(damaged, source="x.ioreg")
    assert model.entries == whole.entries and model.planes == whole.planes
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-archive-objects-salvaged"
    assert f"its count, {count + change}, does not fit its bytes" in warning.message
    with pytest.raises(ArchiveInvalid, match=r"\$objects"):
        parse_archive(damaged, source="x.ioreg", strict=True)


def test_an_object_list_whose_count_and_first_reference_are_damaged_is_refused_once() -> None:
    data = archive_bytes(small_machine())
    start, header = _objects_header(data)
    damaged = _with_count(data, 39)
    damaged = damaged[:start + header] + b"\xff" + damaged[start + header + 1:]
    with pytest.raises(ArchiveInvalid, match=r"\(\$objects\) is damaged: its count \(39\)"):
        parse_archive(damaged, source="x.ioreg")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=6), st.integers(0, 5))
def test_any_damage_to_the_object_lists_header_is_salvaged_or_refused(junk: bytes,
                                                                      at: int) -> None:
    # Whatever its marker and count become: the same machine with the salvage noted (the
    # references were found) or the archive's own refusal (they were not); nothing else.
    data = archive_bytes(small_machine())
    start, header = _objects_header(data)
    at = min(at, header - 1)
    damaged = data[:start + at] + junk + data[start + at + len(junk):]
    try:
        model = parse_archive(damaged, source="x.ioreg")
    except ArchiveInvalid:
        return
    if any(d.reference == "ioreg-archive-objects-salvaged" for d in model.diagnostics):
        whole = parse_archive(data, source="x.ioreg")
        assert [n.name for _, n in model.nubs()] == [n.name for _, n in whole.nubs()]
