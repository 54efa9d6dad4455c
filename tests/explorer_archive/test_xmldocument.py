"""An XML property list document read so that one unreadable value loses only itself."""

from __future__ import annotations

import datetime
import plistlib
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from iokit_host.explorer_archive import ArchiveInvalid, parse_archive
from iokit_host.explorer_archive.xmldocument import XMLDocumentError, load_xml_document
from iokit_host.kext.plistrepair import Repair
from iokit_host.kext.plistvalues import UnreadableValue

SCALARS = st.one_of(
    st.booleans(), st.integers(-(1 << 63), (1 << 64) - 1), st.text(max_size=8).filter(
        lambda text: not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\r]", text)),
    st.binary(max_size=8), st.floats(allow_nan=False, width=32),
    st.datetimes(min_value=datetime.datetime(1000, 1, 1)).map(
        lambda moment: moment.replace(microsecond=0)))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4).filter(
        lambda text: not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\r]", text)),
        inner, max_size=4)), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(VALUES)
def test_a_sound_document_reads_as_plistlib_reads_it(value: Any) -> None:
    data = plistlib.dumps(value)
    assert load_xml_document(data) == plistlib.loads(data)


#: What a hand edit, a paste or a cut leaves inside one scalar element.
DAMAGE = st.sampled_from([
    "<integer>12x</integer>", "<integer>" + "9" * 5000 + "x</integer>", "<integer></integer>",
    "<real>one</real>", "<date>yesterday</date>", "<date>2020-13-45T99:00:00Z</date>",
    "<data>\u00e9\u00e9</data>", "<data>AAA</data>", "<data>!!!@@@</data>", "<uid>3</uid>",
    "<float>1</float>"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-(1 << 40), 1 << 40), min_size=1, max_size=8), st.data())
def test_an_unreadable_scalar_loses_only_itself(numbers: list[int], data: st.DataObject
                                                ) -> None:
    document = plistlib.dumps({"keep": "me", "numbers": numbers}).decode()
    spans = [found.span() for found in re.finditer(r"<integer>[^<]*</integer>", document)]
    start, end = spans[data.draw(st.integers(0, len(spans) - 1))]
    damaged = document[:start] + data.draw(DAMAGE) + document[end:]
    value = load_xml_document(damaged.encode())
    assert value["keep"] == "me"
    bad = [i for i, item in enumerate(value["numbers"]) if isinstance(item, UnreadableValue)]
    assert len(bad) == 1
    assert [item for item in value["numbers"] if not isinstance(item, UnreadableValue)] == [
        number for i, number in enumerate(numbers) if i != bad[0]]


@pytest.mark.parametrize("digits", ["9" * 5000, "-" + "9" * 5000, "0x" + "f" * 5000])
def test_an_integer_of_thousands_of_digits_reads_as_past_64_bits(digits: str) -> None:
    """Not unreadable: a number, out of range, which the property's type check names so."""
    value = load_xml_document(plistlib.dumps({"n": 1}).replace(b"<integer>1<",
                                                               f"<integer>{digits}<".encode()))
    assert not -(1 << 63) <= value["n"] < 1 << 64


@pytest.mark.parametrize(("text", "reason"), [
    (b"<plist><dict><key>a</key></dict></plist>", "after key 'a'"),
    (b"<plist><array>", "no element found"),
    (b"<plist><string>a</string><string>b</string></plist>", "one value"),
    (b'<!DOCTYPE x [<!ENTITY a "b">]><plist><string>&a;</string></plist>', "entity"),
])
def test_what_breaks_the_xml_itself_still_refuses_the_file(text: bytes, reason: str) -> None:
    with pytest.raises(XMLDocumentError, match=reason):
        load_xml_document(text)


def _ioreg_a(properties: str) -> bytes:
    return ("<plist><dict><key>IORegistryEntryName</key><string>Root</string>"
            "<key>IOObjectClass</key><string>IORegistryEntry</string>"
            "<key>IORegistryEntryChildren</key><array><dict>"
            "<key>IORegistryEntryName</key><string>Mac</string>"
            "<key>IOObjectClass</key><string>IOPlatformExpertDevice</string>"
            f"{properties}</dict></array></dict></plist>").encode()


def test_an_ioreg_a_document_with_a_bad_date_imports_without_that_property() -> None:
    # plistlib refused the whole file: "'NoneType' object has no attribute 'groupdict'".
    model = parse_archive(_ioreg_a(
        "<key>good</key><integer>5</integer><key>when</key><date>soon</date>"
        "<key>id</key><integer>" + "9" * 5000 + "</integer>"), source="dump.plist")
    (mac,) = [nub for _, nub in model.nubs() if nub.name == "Mac"]
    assert set(mac.properties) == {"good"}
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-dump-bad-value" and warning.file == "dump.plist"
    assert "<date>soon</date> is not a valid date" in warning.message


def test_a_utf16_document_that_says_so_is_read() -> None:
    text = ('<?xml version="1.0" encoding="UTF-16"?>'
            + _ioreg_a("<key>a</key><string>\u00e9</string>").decode())
    # With its byte-order mark, as TextEdit saves it.
    model = parse_archive(text.encode("utf-16"), source="dump.plist")
    (mac,) = [nub for _, nub in model.nubs() if nub.name == "Mac"]
    assert mac.properties["a"] == "\u00e9"


def test_a_strict_import_refuses_the_unreadable_value_naming_it() -> None:
    with pytest.raises(ArchiveInvalid, match="is not a valid integer"):
        parse_archive(_ioreg_a("<key>n</key><integer>0xZZ</integer>"), source="d.plist",
                      strict=True)


TEXT_WITH_CONTROLS = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r"),
                             max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(TEXT_WITH_CONTROLS, st.lists(TEXT_WITH_CONTROLS, max_size=3),
                       max_size=4))
@example({"\x1f": ["\U000f0000"]})  # a private-use character where a stand-in would go
def test_control_characters_written_as_corefoundation_writes_them_read_back(
        value: dict[str, list[str]]) -> None:
    # CoreFoundation (so ioreg -a) writes a control character in a string as it is; expat
    # refuses it, and the whole document was refused ("not well-formed (invalid token)").
    from iokit_host.ioreg.plisttext import dumps

    repairs: list[Repair] = []
    assert load_xml_document(dumps(value), repairs=repairs) == value
    assert repairs == []


def test_bytes_that_are_not_utf8_are_read_as_windows_1252_and_warned_of() -> None:
    model = parse_archive(_ioreg_a("<key>who</key><string>Andr\xe9 \x80</string>").decode()
                          .encode("latin-1"), source="edited.plist")
    (mac,) = [nub for _, nub in model.nubs() if nub.name == "Mac"]
    assert mac.properties["who"] == "Andr\u00e9 \u20ac"
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-dump-not-utf8" and warning.file == "edited.plist"
    assert "2 byte(s) that are not UTF-8" in warning.message
    with pytest.raises(ArchiveInvalid, match="not UTF-8"):
        parse_archive(_ioreg_a("<key>who</key><string>Andr\xe9</string>").decode()
                      .encode("latin-1"), source="edited.plist", strict=True)


# -- a document whose XML breaks: what came before the break is kept -------------------------

def test_a_document_cut_short_keeps_what_came_before_the_break() -> None:
    whole = _ioreg_a("<key>a</key><integer>1</integer><key>b</key><string>two</string>")
    cut = whole[:whole.index(b"<string>two") + 9]  # inside the second value
    model = parse_archive(cut, source="cut.plist")
    (mac,) = [nub for _, nub in model.nubs() if nub.name == "Mac"]
    assert set(mac.properties) == {"a"}
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-dump-xml-broken" and warning.file == "cut.plist"
    assert "breaks at line 1, column" in warning.message and "what follows is lost" in \
        warning.message
    with pytest.raises(ArchiveInvalid, match="breaks at line 1") as caught:
        parse_archive(cut, source="cut.plist", strict=True)
    assert "is kept" not in caught.value.diagnostic.message  # strict keeps nothing


def test_a_mismatched_tag_loses_what_follows_it_alone() -> None:
    whole = _ioreg_a("<key>a</key><integer>1</integer><key>b</key><integer>2</integer>"
                     "<key>c</key><integer>3</integer>")
    model = parse_archive(whole.replace(b"<integer>2</integer>", b"<integer>2</real>"),
                          source="edited.plist")
    (mac,) = [nub for _, nub in model.nubs() if nub.name == "Mac"]
    assert set(mac.properties) == {"a"}
    assert "mismatched tag" in model.diagnostics[-1].message


def test_junk_after_the_document_loses_nothing() -> None:
    whole = _ioreg_a("<key>a</key><integer>1</integer>")
    model = parse_archive(whole + b"\n% ioreg -a > dump.plist\n", source="pasted.plist")
    assert model.root == parse_archive(whole).root
    assert "junk after document element" in model.diagnostics[-1].message


def _is_prefix(whole: Any, read: Any) -> bool:
    """``read`` is ``whole`` as far as some place in its document: every container holds the
    first items of its counterpart, all equal but the last, which is a prefix itself."""
    stack = [(whole, read)]
    while stack:
        was, now = stack.pop()
        if isinstance(was, dict):
            if not isinstance(now, dict) or list(now) != list(was)[:len(now)]:
                return False
            pairs = list(zip(was.values(), now.values()))
        elif isinstance(was, list):
            if not isinstance(now, list) or len(now) > len(was):
                return False
            pairs = list(zip(was, now))
        else:
            if type(now) is not type(was) or now != was:
                return False
            continue
        if any(item != other for item, other in pairs[:-1]):
            return False
        stack.extend(pairs[-1:])
    return True


@settings(max_examples=200, deadline=None)
@given(VALUES, st.data())
def test_a_document_cut_anywhere_reads_as_a_prefix_of_the_whole(value: Any,
                                                                  data: st.DataObject) -> None:
    document = plistlib.dumps({"value": value, "after": [1, 2]})
    cut = document[:data.draw(st.integers(0, len(document) - 1))]
    repairs: list[Repair] = []
    try:
        read = load_xml_document(cut, repairs=repairs)
    except XMLDocumentError:
        assert b"<dict>" not in cut  # refused only when no value had begun
        return
    whole = plistlib.loads(document)
    assert _is_prefix(whole, read)
    # Only a cut in the whitespace after the end loses nothing and breaks nothing.
    assert (repairs and repairs[-1].reference == "ioreg-dump-xml-broken") or (
        read == whole and cut.rstrip() == document.rstrip())


@pytest.mark.parametrize("damage", [
    "<key>dangling</key>",  # a key without its value: it alone is lost
    "<integer>7</integer>",  # a value without its key: it alone is lost
    "<array><integer>7</integer></array>",  # a container without its key, the same
])
def test_a_dict_that_is_not_pairs_keeps_its_pairs_when_repairs_are_taken(damage: str) -> None:
    """One stray element refused the whole `ioreg -a` document (and named `$objects`, a key
    no such file has); the pairs around it stay pairs."""
    document = plistlib.dumps({"a": 1, "b": {"c": 2}, "d": [3]}).decode().replace(
        "<key>b</key>", damage + "<key>b</key>", 1).encode()
    with pytest.raises(XMLDocumentError, match="not <key>, value pairs"):
        load_xml_document(document)
    repairs: list[Repair] = []
    value = load_xml_document(document, repairs=repairs)
    assert value == {"a": 1, "b": {"c": 2}, "d": [3]}
    assert [repair.reference for repair in repairs] == ["ioreg-dump-xml-unpaired"]
