"""A whole binary document is held to a document's bounds, not one property value's: the
archive of a large Mac loads; a small file that stands for an enormous tree, or a large one
that contains itself, is still refused; a container inside itself is otherwise one damaged
reference."""

from __future__ import annotations

import plistlib
from typing import Any

import pytest

from iokit_host.explorer_archive import ArchiveInvalid, parse_archive, plistdata
from iokit_host.explorer_archive.plistdata import PlistUnreadable, load_plist
from iokit_host.kext import plistshape
from iokit_host.kext.plistvalues import UnreadableValue
from tests.explorer_archive.archivekit import Entry, archive_bytes, small_machine

#: One property value's item limit, made small so that a small archive is past it.
VALUE_ITEMS = 500


@pytest.fixture
def small_value_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plistshape, "MAX_VALUE_ITEMS", VALUE_ITEMS)


def _large_machine(devices: int) -> list[Entry]:
    return [*small_machine(), *(Entry(f"dev{n}", ["IOService", "IORegistryEntry"],
                                      parents={"IOService": ["Mac-1"]})
                                for n in range(devices))]


@pytest.mark.usefixtures("small_value_limit")
def test_an_archive_past_one_values_items_loads() -> None:
    # A real large Mac's archive (thousands of entries, ~90 items each) is past the 262,144
    # items one property value may hold; it was refused whole.
    data = archive_bytes(_large_machine(60))
    with pytest.raises(plistshape.PlistShapeError):
        plistshape.check_binary(data)  # past one value's limit, as the large Mac's is
    model = parse_archive(data, source="large.ioreg")
    assert sum(1 for _, nub in model.nubs() if (nub.name or "").startswith("dev")) == 60
    assert not model.diagnostics


@pytest.mark.usefixtures("small_value_limit")
def test_a_property_table_is_still_held_to_one_values_items() -> None:
    table = plistlib.dumps({"k": list(range(VALUE_ITEMS + 1))}, fmt=plistlib.FMT_BINARY)
    with pytest.raises(PlistUnreadable, match="items"):
        load_plist(table, values=True)


@pytest.mark.usefixtures("small_value_limit")
def test_a_document_that_stands_for_an_enormous_tree_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plistdata, "MAX_DOCUMENT_ITEMS", 10_000)
    leaf = ["x"] * 40
    middle = [leaf] * 40  # the writer stores a list met again once: a file of ~100 refs
    data = plistlib.dumps({"$objects": [middle] * 40}, fmt=plistlib.FMT_BINARY)
    assert len(data) < 1000
    with pytest.raises(PlistUnreadable, match="holds more than 10000 items"):
        load_plist(data)


def _bplist(objects: list[bytes]) -> bytes:
    """A ``bplist00`` of one-byte refs whose object 0 is the top."""
    body, offsets = bytearray(b"bplist00"), []
    for item in objects:
        offsets.append(len(body))
        body += item
    table = len(body)
    body += bytes(offsets)
    return (bytes(body) + bytes(6) + bytes([1, 1]) + len(objects).to_bytes(8, "big")
            + bytes(8) + table.to_bytes(8, "big"))


def _self_containing(strings: int) -> bytes:
    """Object 0: an array of ``strings`` strings (object 1), then itself."""
    refs = [1] * strings + [0]
    body = b"bplist00" + bytes([0xAF, 0x11, *len(refs).to_bytes(2, "big"), *refs])
    offsets = (8).to_bytes(2, "big") + len(body).to_bytes(2, "big")  # two-byte offsets
    body += bytes([0x51]) + b"s"
    return (body + offsets + bytes(6) + bytes([2, 1]) + (2).to_bytes(8, "big") + bytes(8)
            + (len(body)).to_bytes(8, "big"))


@pytest.mark.usefixtures("small_value_limit")
def test_a_large_document_that_contains_itself_is_refused() -> None:
    data = _self_containing(VALUE_ITEMS + 99)
    with pytest.raises(PlistUnreadable, match=rf"\[{VALUE_ITEMS + 99}\]: contains itself"):
        load_plist(data)
    with pytest.raises(ArchiveInvalid, match="contains itself"):
        parse_archive(data, source="cycle.ioreg")


def test_a_document_that_contains_itself_loses_only_that_reference() -> None:
    # A whole document's cycle is one damaged reference: it was refused whole.
    value = load_plist(_self_containing(199))
    assert value[:199] == ["s"] * 199 and len(value) == 200
    assert isinstance(value[199], UnreadableValue) and "contains itself" in value[199].reason
    with pytest.raises(PlistUnreadable, match=r"\[199\]: contains itself"):
        load_plist(_self_containing(199), values=True)  # a property table: refused as ever


@pytest.mark.usefixtures("small_value_limit")
def test_a_large_document_nested_too_deep_is_refused() -> None:
    deep: Any = "x"
    for _ in range(200):
        deep = [deep]
    data = plistlib.dumps([list(range(VALUE_ITEMS)), deep], fmt=plistlib.FMT_BINARY)
    with pytest.raises(PlistUnreadable, match="nested"):
        load_plist(data)
