"""Property-list values built as the parser reports each element, with no document tree."""

from __future__ import annotations

import pytest

from iokit_host.explorer_archive import parse_archive
from iokit_host.explorer_archive.xmldocument import XMLDocumentError, load_xml_document
from iokit_host.kext.plistvalues import UnreadableValue


def test_a_string_longer_than_what_the_parser_is_given_at_once_reads_whole() -> None:
    # Two-byte characters across every boundary of the 1 MiB pieces the parser is fed.
    text = "\u00e9" * (3 << 19) + "x"
    assert load_xml_document(f"<plist><array><string>{text}</string></array></plist>"
                             .encode()) == [text]


def test_a_scalar_holding_elements_is_unreadable_not_cut_short() -> None:
    # CoreFoundation refuses such a value and plistlib joins the text around the element;
    # reading "one" (the text before it) would silently be neither.
    value = load_xml_document(b"<plist><dict><key>a</key><string>one<b>two</b>three"
                              b"</string><key>n</key><integer>7<dict/></integer></dict></plist>")
    assert isinstance(value["a"], UnreadableValue) and "<b>" in value["a"].reason
    assert isinstance(value["n"], UnreadableValue) and "<dict>" in value["n"].reason


def test_a_repeated_key_keeps_its_first_place_and_its_last_value() -> None:
    value = load_xml_document(b"<plist><dict><key>a</key><true/><key>b</key><false/>"
                              b"<key>a</key><integer>2</integer></dict></plist>")
    assert list(value.items()) == [("a", 2), ("b", False)]


def test_of_several_broken_dictionaries_the_first_in_the_document_is_named() -> None:
    # The inner one ends first; the outer one starts first, and a reader meets it first.
    with pytest.raises(XMLDocumentError, match="after key 'outer'"):
        load_xml_document(b"<plist><dict><key>x</key><dict><string>inner</string></dict>"
                          b"<key>outer</key></dict></plist>")


def test_an_element_no_plist_has_loses_only_itself() -> None:
    value = load_xml_document(b"<plist><array><uid>3</uid><string>kept</string></array>"
                              b"</plist>")
    assert isinstance(value[0], UnreadableValue) and value[1] == "kept"
    assert "<uid> is not a property-list element" in value[0].reason


@pytest.mark.parametrize("text", [b"<plist></plist>", b"<dict></dict>",
                                  b"<plist><true/><true/></plist>"])
def test_a_document_that_is_not_one_value_in_a_plist_is_refused(text: bytes) -> None:
    with pytest.raises(XMLDocumentError, match="not a property list"):
        load_xml_document(text)


def test_an_encoding_the_reader_does_not_know_is_read_as_utf8() -> None:
    # An edited declaration; the encoding lookup failed with an internal error.
    model = parse_archive(b'<?xml version="1.0" encoding="UTFx-8"?><plist><dict>'
                          b"<key>IORegistryEntryName</key><string>Root</string>"
                          b"<key>IOObjectClass</key><string>IORegistryEntry</string>"
                          b"<key>IORegistryEntryChildren</key><array><dict>"
                          b"<key>IOObjectClass</key><string>IOPlatformExpertDevice</string>"
                          b"<key>IORegistryEntryName</key><string>Mac\xc3\xa9</string>"
                          b"</dict></array></dict></plist>", source="edited.plist")
    assert [nub.name for _, nub in model.nubs()][-1] == "Mac\u00e9"


def test_an_entry_table_declaring_an_unknown_encoding_is_unreadable_not_an_error() -> None:
    from iokit_host.explorer_archive.plistdata import PlistUnreadable, load_plist

    with pytest.raises(PlistUnreadable, match="unknown encoding"):
        load_plist(b'<?xml version="1.0" encoding="UTFx-8"?><plist><dict/></plist>',
                   values=True)


def test_what_cannot_be_kept_is_left_out_and_the_rest_shared() -> None:
    """What a manifest keeps (and a kernel collection stores) holds no unreadable value and
    no key that is not a string: a damaged binary plist made both, and the collection could
    not be written (every later boot cold)."""
    from plistlib import UID

    from iokit_host.kext.plistvalues import without_unreadable

    bad = UnreadableValue("object 9 cannot be read")
    shared = [1, bad]
    untouched = {"e": [1, 2]}
    value = {"a": [1, bad, {"b": bad, UID(3): 2, "c": shared}], "d": untouched, "s": shared,
             "OSBundleLibraries": {UID(16): "9.0", "com.apple.kpi.iokit": "9.0"}}
    kept = without_unreadable(value)
    assert kept == {"a": [1, {"c": [1]}], "d": {"e": [1, 2]}, "s": [1],
                    "OSBundleLibraries": {"com.apple.kpi.iokit": "9.0"}}
    assert kept["d"] is untouched and kept["a"][1]["c"] is kept["s"]  # shared stays shared
    assert value["s"] == [1, bad]  # the read value itself is not changed
    plain = {"x": [1, {"y": b""}]}
    assert without_unreadable(plain) is plain
