"""A plist file read for its top-level dictionary: what Info.plist and Entitlements.plist share."""

from __future__ import annotations

import plistlib

import pytest
from iokit_sdk.values import MAX_VALUE_DEPTH

from iokit_host.kext.plist_types import describe
from iokit_host.kext.plistfile import load_plist
from iokit_host.kext.plistvalues import UnreadableValue


def test_a_dictionary_is_read() -> None:
    info, problem = load_plist("Info.plist", plistlib.dumps({"CFBundleIdentifier": "a.b"}))
    assert problem is None and info == {"CFBundleIdentifier": "a.b"}


@pytest.mark.parametrize(("data", "reference"), [
    (b"not a plist at all", "manifest-unreadable"),
    (plistlib.dumps(["a", "list"]), "manifest-not-a-dictionary"),
])
def test_what_is_not_a_dictionary_is_named_with_its_file(data: bytes, reference: str) -> None:
    info, problem = load_plist("/x/Entitlements.plist", data)
    assert info is None and problem is not None
    assert problem.reference == reference and problem.file == "/x/Entitlements.plist"
    assert problem.hint


def test_a_plist_nested_past_the_limit_is_refused_with_where_and_why() -> None:
    deep: object = "leaf"
    for _ in range(MAX_VALUE_DEPTH + 5):
        deep = [deep]
    info, problem = load_plist("Info.plist", plistlib.dumps({"Deep": deep}))
    assert info is None and problem is not None
    assert problem.reference.startswith("plist-") and (problem.key or "").startswith("Deep")
    assert str(MAX_VALUE_DEPTH) in (problem.hint or "")


_DOC = ('<?xml version="1.0" encoding="{encoding}"?>\n'
        '<!DOCTYPE plist [<!ENTITY x "com.entity.k">]><plist version="1.0"><dict>'
        "<key>CFBundleIdentifier</key><string>&x;</string></dict></plist>")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                      "latin-1", "cp500"])
def test_entity_declarations_are_refused_in_every_encoding(encoding: str) -> None:
    """As plistlib refuses them: an entity must not expand into a bundle id because the file
    is UTF-16 (the ``<!ENTITY`` bytes are then not there to be seen)."""
    head, _, body = _DOC.format(encoding=encoding).partition("\n")
    data = (head + "\n").encode("ascii") + body.encode(encoding) if encoding == "cp500" \
        else _DOC.format(encoding=encoding.upper().removesuffix("-LE").removesuffix("-BE")
                         ).encode(encoding)
    info, problem = load_plist("Info.plist", data)
    assert info is None and problem is not None and problem.reference == "manifest-unreadable"
    assert "entity declarations" in problem.message


def test_a_utf16_manifest_without_entities_is_read() -> None:
    data = plistlib.dumps({"CFBundleIdentifier": "a.b", "N": 5}).decode().replace(
        "UTF-8", "UTF-16").encode("utf-16")
    assert load_plist("Info.plist", data) == ({"CFBundleIdentifier": "a.b", "N": 5}, None)


@pytest.mark.parametrize(("element", "reason"), [
    ("<date>garbage</date>", "not a valid date"), ("<date></date>", "not a valid date"),
    ("<date>0000-01-01T00:00:00Z</date>", "not a valid date"),
    ("<real>zz</real>", "not a valid real"), ("<integer>12x</integer>", "not a valid integer"),
    ("<data>!!!@@@</data>", "not base64"),
])
def test_a_value_whose_text_does_not_parse_loses_only_itself(element: str, reason: str) -> None:
    data = plistlib.dumps({"CFBundleIdentifier": "a.b", "Bad": 1, "Good": [1, 2]}).replace(
        b"<integer>1</integer>", element.encode(), 1)
    info, problem = load_plist("Info.plist", data)
    assert problem is None and info["CFBundleIdentifier"] == "a.b" and info["Good"] == [1, 2]
    assert isinstance(info["Bad"], UnreadableValue) and reason in info["Bad"].reason
    assert describe(info["Bad"]).startswith(f"an unreadable value ({element[:6]}")


def test_a_damaged_binary_object_loses_only_itself() -> None:
    data = bytearray(plistlib.dumps({"CFBundleIdentifier": "a.b", "Bad": "x" * 20},
                                    fmt=plistlib.FMT_BINARY))
    data[data.index(b"x" * 20) - 1] = 0x77  # the string's marker: no object has it
    info, problem = load_plist("Info.plist", bytes(data))
    assert problem is None and info["CFBundleIdentifier"] == "a.b"
    assert "no plist object begins with its byte" in info["Bad"].reason


@pytest.mark.parametrize(("data", "said"), [
    (b"<plist><array/></plist>", "the top level is an array"),
    (b"<plist><string>x</string></plist>", "the top level is a string ('x')"),
])
def test_a_top_level_that_is_not_a_dictionary_is_named_in_plist_terms(data: bytes, said: str
                                                                        ) -> None:
    problem = load_plist("Info.plist", data)[1]
    assert problem is not None and problem.message == said


def test_broken_xml_is_refused_with_its_line_and_column() -> None:
    problem = load_plist("Info.plist", b"<plist><dict>\n<key>a</key><string>x</dict></plist>")[1]
    assert problem is not None and problem.reference == "manifest-unreadable"
    assert "line 2, column" in problem.message and "Error" not in problem.message
