"""A damaged binary property list loses only its damaged objects (explorer_archive.bplist), and
so does an IORegistryExplorer archive read through it: the entries that did not use a damaged
object are all kept."""

from __future__ import annotations

import plistlib
import random
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.values import MAX_VALUE_DEPTH

from iokit_host.explorer_archive import ArchiveInvalid, import_archive, parse_archive
from iokit_host.kext.plistbinary import BinaryPlistError, load_tolerant
from iokit_host.kext.plistrepair import Repair
from iokit_host.kext.plistvalues import UnreadableValue
from iokit_host.machine.model import MachineModel
from tests.conftest import CORPUS as CORPUS_ROOT
from tests.explorer_archive.archivekit import archive_bytes, small_machine

CORPUS = CORPUS_ROOT / "archives"  # $IOKIT_CORPUS, as every corpus test
#: A marker byte no binary plist object has (0x7X is unused in CFBinaryPList.c).
NO_OBJECT = 0x70


def _offsets(data: bytes) -> list[int]:
    """Where each object of a binary plist begins."""
    size, _, count, _, table = struct.unpack(">6xBBQQQ", data[-32:])
    return [int.from_bytes(data[table + i * size:table + (i + 1) * size], "big")
            for i in range(count)]


def _damaged(data: bytes, *refs: int) -> bytes:
    """``data`` with each object ``ref``'s marker replaced by one no object has."""
    damaged = bytearray(data)
    offsets = _offsets(data)
    for ref in refs:
        damaged[offsets[ref]] = NO_OBJECT
    return bytes(damaged)


def _ids(model: MachineModel) -> list[str]:
    return sorted(nub.id for _, nub in model.nubs())


def test_an_unreadable_item_is_left_in_its_place_saying_which_and_why() -> None:
    data = plistlib.dumps(["kept", "lost", "also kept"], fmt=plistlib.FMT_BINARY)
    value = load_tolerant(_damaged(data, 2))
    assert value[0] == "kept" and value[2] == "also kept"
    assert isinstance(value[1], UnreadableValue)
    assert "object 2" in value[1].reason


def test_a_string_that_is_not_utf16_loses_only_itself() -> None:
    data = bytearray(plistlib.dumps({"a": "\u00e9t\u00e9", "b": 1}, fmt=plistlib.FMT_BINARY))
    at = data.index("\u00e9t\u00e9".encode("utf-16-be"))
    data[at:at + 2] = b"\xdc\x00"  # a lone low surrogate
    value = load_tolerant(bytes(data))
    assert value["b"] == 1 and isinstance(value["a"], UnreadableValue)
    assert "utf-16" in value["a"].reason


def test_a_damaged_plist_nested_past_the_limit_is_refused_not_recursed_into() -> None:
    from iokit_host.kext.plistshape import PlistShapeError

    deep: Any = ["bottom", "damaged"]
    for _ in range(MAX_VALUE_DEPTH * 3):
        deep = [deep]
    data = plistlib.dumps(deep, fmt=plistlib.FMT_BINARY)
    damaged = _damaged(data, len(_offsets(data)) - 1)  # the last object: "damaged"
    with pytest.raises(PlistShapeError, match="nested"):
        load_tolerant(damaged)


@pytest.mark.parametrize(("cut", "words"), [
    (lambda data: data[:-32] + b"\xff" * 32, "trailer"),
    (lambda data: data[:20], "too short"),
])
def test_a_file_whose_index_is_damaged_is_refused(cut: Any, words: str) -> None:
    data = plistlib.dumps({"a": [1, 2, 3], "b": "text"}, fmt=plistlib.FMT_BINARY)
    with pytest.raises(BinaryPlistError, match=words):
        load_tolerant(cut(data))


def test_a_damaged_top_object_refuses_the_archive_naming_the_file() -> None:
    with pytest.raises(ArchiveInvalid) as caught:
        parse_archive(_damaged(archive_bytes(small_machine()), 0), source="top.ioreg")
    assert caught.value.diagnostic.file == "top.ioreg"
    assert "object 0 cannot be read" in caught.value.diagnostic.message


def _subtrees(model: MachineModel) -> list[set[str]]:
    """Each nub's id with the ids of every nub below it."""
    found = []
    for _, nub in model.nubs():
        below, stack = set(), [nub]
        while stack:
            current = stack.pop()
            below.add(current.id)
            stack.extend(current.children)
        found.append(below)
    return found


def test_a_damaged_dictionary_loses_one_entry_and_what_hangs_from_it() -> None:
    data = archive_bytes(small_machine())
    whole = parse_archive(data)
    subtrees = _subtrees(whole)
    read = 0
    for ref, offset in enumerate(_offsets(data)):
        if data[offset] & 0xF0 != 0xD0:
            continue  # dictionaries: entry records, their tables, the store, the classes
        try:
            model = parse_archive(_damaged(data, ref), source="x.ioreg")
        except ArchiveInvalid as refused:  # the document, $top, Root: all hang from them
            assert refused.diagnostic.file == "x.ioreg"
            continue
        read += 1
        lost = set(_ids(whole)) - set(_ids(model))
        assert not lost or any(lost <= below for below in subtrees), lost
        assert all(d.reference.startswith("ioreg-archive-bad-") and d.file == "x.ioreg"
                   for d in model.diagnostics)
    assert read >= 20  # most of them: each entry's record and tables


def test_an_unreadable_list_of_entries_is_made_up_by_their_class() -> None:
    data = archive_bytes(small_machine())
    document = plistlib.loads(data)
    objects = document["$objects"]
    listed = objects[objects[document["$top"]["root"].data]["registryEntries"].data]
    count = len(listed["NS.objects"])
    # The list is the only array of exactly as many references as there are entries.
    (ref,) = [ref for ref, offset in enumerate(_offsets(data))
              if data[offset] == 0xA0 | count]
    model = parse_archive(_damaged(data, ref), source="list.ioreg")
    assert _ids(model) == _ids(parse_archive(data))
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-archive-bad-entry"
    assert "found by their class" in warning.message


def _data_objects(data: bytes, smallest: int) -> list[int]:
    """Refs of the data objects (an entry's properties) of at least ``smallest`` bytes."""
    found = []
    for ref, offset in enumerate(_offsets(data)):
        token = data[offset]
        if token & 0xF0 == 0x40 and token & 0x0F == 0x0F:  # data, its size after it
            width = 1 << (data[offset + 1] & 0x3)
            if int.from_bytes(data[offset + 2:offset + 2 + width], "big") >= smallest:
                found.append(ref)
    return found


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is absent")
def test_a_real_archive_with_damaged_properties_keeps_every_entry() -> None:
    path = min(CORPUS.glob("*.ioreg"), key=lambda p: p.stat().st_size)
    data = path.read_bytes()
    whole = import_archive(path)
    refs = random.Random(7).sample(_data_objects(data, 200), 10)
    model = parse_archive(_damaged(data, *refs), source=path.name)
    assert _ids(model) == _ids(whole)
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-archive-bad-properties"
    assert warning.context["count"] == 10
    assert warning.file == path.name
    changed = [nub.id for (_, nub), (_, was) in zip(model.nubs(), whole.nubs(), strict=True)
               if nub.properties != was.properties]
    # The ten tables lost (a few belong to entries outside the IOService plane), no other.
    assert 1 <= len(changed) <= 10
    assert all(not nub.properties for _, nub in model.nubs() if nub.id in changed)


# -- the property: whatever object is damaged, everything else is read as it was ------------

PLIST = st.recursive(
    st.one_of(st.booleans(), st.integers(-(1 << 63), (1 << 63) - 1), st.text(max_size=6),
              st.binary(max_size=6), st.floats(allow_nan=False)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=25)


def _kept_or_unreadable(original: Any, read: Any) -> int:
    """How many places of ``read`` are unreadable; every other place equals ``original``'s."""
    unreadable = 0
    stack = [(original, read)]
    while stack:
        was, now = stack.pop()
        if isinstance(now, UnreadableValue):
            unreadable += 1
        elif isinstance(was, dict):
            assert isinstance(now, dict) and len(now) == len(was)
            for key, value in now.items():
                if isinstance(key, UnreadableValue):
                    unreadable += 1  # its value is the original's for some key
                else:
                    stack.append((was[key], value))
        elif isinstance(was, list):
            assert isinstance(now, list) and len(now) == len(was)
            stack.extend(zip(was, now))
        else:
            assert now == was and type(now) is type(was)
    return unreadable


@settings(max_examples=200, deadline=None)
@given(PLIST.filter(lambda v: isinstance(v, list | dict)), st.data())
def test_a_damaged_object_loses_only_the_places_that_hold_it(value: Any, data: Any) -> None:
    clean = plistlib.dumps(value, fmt=plistlib.FMT_BINARY)
    offsets = _offsets(clean)
    top = struct.unpack(">6xBBQQQ", clean[-32:])[3]
    ref = data.draw(st.sampled_from([r for r in range(len(offsets)) if r != top] or [top]))
    if ref == top:
        with pytest.raises(BinaryPlistError):
            load_tolerant(_damaged(clean, ref))
        return
    assert _kept_or_unreadable(value, load_tolerant(_damaged(clean, ref))) >= 1


# -- a binary plist cut short: its index is lost, its objects are read as far as they go ---

@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is absent")
def test_a_real_archive_cut_short_keeps_the_entries_it_still_holds() -> None:
    path = next(CORPUS.glob("*Macmini6,2.ioreg"), None)
    if path is None:
        pytest.skip("the Macmini6,2 archive is absent")
    data = path.read_bytes()
    whole = import_archive(path)
    # Cut in the offset table: every object is there, so is every entry.
    table = struct.unpack(">6xBBQQQ", data[-32:])[4]
    model = parse_archive(data[:table + 100], source="cut.ioreg")
    assert _ids(model) == _ids(whole)
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-dump-binary-cut-short" and warning.file == "cut.ioreg"
    assert "no readable index" in warning.message and "is lost" in warning.message
    # Cut in half: what NSKeyedArchiver wrote first is kept (it writes links last).
    half = parse_archive(data[:len(data) // 2], source="cut.ioreg")
    assert 50 <= len(_ids(half)) < len(_ids(whole))
    assert set(_ids(half)) <= set(_ids(whole))
    assert "ioreg-dump-binary-cut-short" in {d.reference for d in half.diagnostics}
    with pytest.raises(ArchiveInvalid, match="no readable index"):
        parse_archive(data[:len(data) // 2], source="cut.ioreg", strict=True)


def test_without_repairs_asked_for_a_file_cut_short_is_refused() -> None:
    data = plistlib.dumps({"a": [1, 2, 3]}, fmt=plistlib.FMT_BINARY)
    with pytest.raises(BinaryPlistError, match="trailer"):
        load_tolerant(data[:-10])
    repairs: list[Repair] = []
    assert load_tolerant(data[:-10], repairs) == {"a": [1, 2, 3]}
    (repair,) = repairs
    assert repair.reference == "ioreg-dump-binary-cut-short"


@settings(max_examples=200, deadline=None)
@given(PLIST.filter(lambda v: isinstance(v, list | dict)), st.data())
def test_a_plist_cut_anywhere_keeps_only_what_it_read_whole(value: Any, data: Any) -> None:
    clean = plistlib.dumps(value, fmt=plistlib.FMT_BINARY)
    cut = clean[:data.draw(st.integers(9, len(clean) - 1))]
    repairs: list[Repair] = []
    try:
        read = load_tolerant(cut, repairs)
    except BinaryPlistError:
        return  # cut inside the top object: nothing to place anything in
    _kept_or_unreadable(value, read)  # every place is the original's, or unreadable
    assert [repair.reference for repair in repairs] == ["ioreg-dump-binary-cut-short"]


@pytest.mark.parametrize(("value", "cut"), [
    ([151808, False, 0], 24),  # read with 2-byte references, the array named objects 258, 770
    ([5e-324, [False, True, -6797], ["--kext"]], 18),  # ... and itself: a cycle, refused
])
def test_a_cut_plist_is_read_with_the_reference_size_it_was_written_with(value: Any,
                                                                          cut: int) -> None:
    """Cases hypothesis found: the size that found the most objects was a misreading."""
    repairs: list[Repair] = []
    read = load_tolerant(plistlib.dumps(value, fmt=plistlib.FMT_BINARY)[:cut], repairs)
    _kept_or_unreadable(value, read)
    assert [repair.reference for repair in repairs] == ["ioreg-dump-binary-cut-short"]


def test_ioreg_a_in_binary_with_a_damaged_entry_loses_that_entry_and_its_children() -> None:
    def entry(name: str, *children: dict[str, Any]) -> dict[str, Any]:
        return {"IOObjectClass": "IOService", "IORegistryEntryName": name,
                "IORegistryEntryChildren": list(children)}

    document = {"IOObjectClass": "IORegistryEntry", "IORegistryEntryName": "Root",
                "IORegistryEntryChildren": [entry(
                    "Mac", entry("kept-1"), entry("lost", entry("lost-child")),
                    entry("kept-2"))]}
    data = plistlib.dumps(document, fmt=plistlib.FMT_BINARY)
    names = {nub.name for _, nub in parse_archive(data).nubs()}
    subtrees = [{nub.name for _, nub in top.walk()} for _, top in parse_archive(data).nubs()]
    losses = []
    for ref, offset in enumerate(_offsets(data)):
        if data[offset] & 0xF0 != 0xD0 or ref == 0:
            continue  # each entry's dictionary but Root's
        try:
            model = parse_archive(_damaged(data, ref), source="dump.plist")
        except ArchiveInvalid as refused:  # Mac's: every entry hangs from it
            assert "no entries below it" in refused.diagnostic.message
            losses.append(names)
            continue
        lost = names - {nub.name for _, nub in model.nubs()}
        assert any(lost == below for below in subtrees), lost  # an entry and what is below
        assert {d.reference for d in model.diagnostics} == {"ioreg-dump-bad-entry"}
        losses.append(lost)
    assert {"lost", "lost-child"} in losses and {"kept-2"} in losses


def test_damage_does_not_let_a_small_file_stand_for_an_enormous_tree() -> None:
    from iokit_host.explorer_archive.plistdata import PlistUnreadable, load_plist
    from iokit_host.kext.plistshape import PlistShapeError

    shared = list(range(1000))
    data = plistlib.dumps([shared] * 1000, fmt=plistlib.FMT_BINARY)  # one array, 1000 times
    assert len(data) < 10_000
    offsets = _offsets(data)
    scalar = next(ref for ref, offset in enumerate(offsets) if data[offset] & 0xF0 == 0x10)
    damaged = _damaged(data, scalar)  # read object by object: still a million items
    with pytest.raises(PlistShapeError, match="items"):
        load_tolerant(damaged)
    with pytest.raises(PlistUnreadable, match="items"):
        load_plist(damaged)
    with pytest.raises(PlistShapeError, match="items"):  # cut short, its index made again
        load_tolerant(damaged[:-40], [])
