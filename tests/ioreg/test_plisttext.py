"""XML plist text without recursion: the bytes plistlib.dumps writes, at any depth."""

from __future__ import annotations

import datetime as dt
import plistlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.ioreg.plisttext import dumps

#: Text plistlib can write (no control characters but tab, newline and carriage return).
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="".join(
    chr(c) for c in range(32) if chr(c) not in "\t\n\r")), max_size=8)
leaves = st.one_of(st.booleans(), st.integers(-(1 << 63), (1 << 64) - 1), st.floats(allow_nan=False),
                   text, st.binary(max_size=120),
                   st.datetimes(min_value=dt.datetime(1000, 1, 1)).map(
                       lambda d: d.replace(microsecond=0)))
documents = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)), max_leaves=25)


@settings(max_examples=200, deadline=None)
@given(documents)
def test_the_iterative_writer_writes_what_plistlib_writes(value: object) -> None:
    assert dumps(value) == plistlib.dumps(value, fmt=plistlib.FMT_XML)


def test_data_deep_inside_keeps_plistlib_line_widths() -> None:
    value: object = {"data": bytes(range(256))}
    for _ in range(12):
        value = {"below": [value]}
    assert dumps(value) == plistlib.dumps(value, fmt=plistlib.FMT_XML)


def test_a_registry_deeper_than_plistlib_can_go_is_written() -> None:
    top: dict[str, object] = {"IORegistryEntryName": "Root"}
    node = top
    for level in range(1500):
        child: dict[str, object] = {"IORegistryEntryName": f"n{level}"}
        node["IORegistryEntryChildren"] = [child]
        node = child
    with pytest.raises(RecursionError):
        plistlib.dumps(top)
    data = dumps(top)
    assert data.count(b"<key>IORegistryEntryName</key>") == 1501
    assert data.endswith(b"</dict>\n</plist>\n")


def test_control_characters_are_written_as_corefoundation_writes_them() -> None:
    assert b"<string>a\x01b</string>" in dumps("a\x01b")


def test_large_documents_written_in_pieces_are_whole() -> None:
    value = {f"k{i:05}": [i, b"\x00" * (i % 70), {"s": "x" * (i % 5)}] for i in range(3000)}
    assert dumps(value) == plistlib.dumps(value, fmt=plistlib.FMT_XML)
