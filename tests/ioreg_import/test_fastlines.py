"""Lines of a common shape, read on the fast road, read exactly as the per-line reader reads them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.ioreg_import import tree
from iokit_host.ioreg_import.damage import DumpDamage
from iokit_host.ioreg_import.errors import IoregDumpInvalid
from iokit_host.ioreg_import.fastlines import LINE, header_states
from iokit_host.ioreg_import.tree import DumpNode, read_tree
from tests.ioreg_import.test_fastvalues import typed

CORPUS = Path("/work/shared/corpus/ioreg")
_NO_LINE = re.compile(r"(?!)")  # matches no line: every line goes the per-line way


def reading(text: str, monkeypatch: pytest.MonkeyPatch, *, fast: bool) -> Any:
    """Everything a reader of ``text`` tells: the tree as printed and the damage met."""
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(tree, "LINE", _NO_LINE)
        damage = DumpDamage("d.txt", strict=False)
        try:
            root = read_tree(text, "d.txt", damage=damage)
        except IoregDumpInvalid as error:
            return ("refused", str(error), [str(d) for d in damage.diagnostics()])
    return (_shown(root), [(str(d), d.context) for d in damage.diagnostics()])


def _shown(root: DumpNode) -> list[Any]:
    shown, stack = [], [root]
    while stack:
        node = stack.pop()
        properties = None if node.properties is None else typed(node.properties)
        shown.append((node.name, node.location, node.class_name, node.line, node.depth,
                      node.inheritance, node.entry_id, node.states, node.dropped, properties,
                      len(node.children)))
        stack.extend(reversed(node.children))
    return shown


def test_each_common_shape_is_told_by_its_group() -> None:
    shapes = {
        '  | "k" = 42': "decimal", '  | "k" = 0x2a': "hexadecimal", '  "k" = Yes': "yes",
        '"k" = No': "no", '  "k" = "a "quoted" b"': "string", '"k" = <00ff>': "data",
        '"k" = <"pci8086,1">': "cstring", '"k" = (1,2)': "other", "  | {": "open",
        "  | }": "close", "  | |  ": "blank",
        "  +-o PCI0@0  <class IOPCIDevice, id 0x1000001a2, registered, retain 9>": "tail",
    }
    for line, shape in shapes.items():
        found = LINE.match(line)
        assert found is not None and found.lastgroup == shape, line


@pytest.mark.parametrize("line", [
    "+-o PCI0  <class IOPCIDevice, retain count 9>",  # PowerPC-era header
    "+-o PCI0  <class IOService:IOPCIDevice, id 0x1a2, retain 9>",  # ioreg -i
    "+-o PCI0  <class IOPCIDevice, id 0x1a2, retain 9",  # clipped
    "+-o PCI0   <class IOPCIDevice, id 0x1a2, retain 9>",  # a blank kept on the name
    "+-o PCI0  <class IOPCIDevice, id 0xXXXX, retain 9>",  # edited id
    '"k" = 42 ', '"k" = "s" ',  # a blank the careful reader skips
])
def test_uncommon_lines_are_left_to_the_careful_reader(line: str) -> None:
    found = LINE.match(line)
    assert found is None or found.lastgroup in {"other", None}, line


@pytest.mark.parametrize("data", ["<0 0>", "< 00>", "<0>", "<0g>", "<00>>"])
def test_data_that_is_not_hex_digit_pairs_alone_reads_as_the_careful_reader_says(
        data: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = f'+-o Root  <class IORegistryEntry, id 0x1>\n  {{\n    "d" = {data}\n  }}\n'
    assert reading(text, monkeypatch, fast=True) == reading(text, monkeypatch, fast=False)


@pytest.mark.parametrize("number", ["18446744073709551615", "00000000000000000042",
                                    "18446744073709551616", "99999999999999999999"])
def test_a_twenty_digit_number_reads_as_the_careful_reader_says(
        number: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # 2**64 - 1 is on every HID element's line: read on the fast road; from 2**64 on the
    # careful reader refuses it, with its warning, on either road.
    assert LINE.match(f'    "Usage" = {number}').lastgroup == "decimal"  # type: ignore[union-attr]
    text = f'+-o Root  <class IORegistryEntry, id 0x1>\n  {{\n    "Usage" = {number}\n  }}\n'
    fast = reading(text, monkeypatch, fast=True)
    assert fast == reading(text, monkeypatch, fast=False)
    refused = int(number) >> 64 > 0
    assert ("Usage" in str(fast[1])) == refused


def test_a_header_with_a_second_id_is_left_to_the_careful_reader() -> None:
    assert header_states(", registered, !matched, busy 0 (5 ms), retain 7") == (
        "registered", "!matched", "busy 0 (5 ms)")
    assert header_states(", id 0x2, retain 7") is None


_ENTRY = st.sampled_from([
    "+-o Root  <class IORegistryEntry, id 0x100000100, retain 19>",
    "  +-o Mac@0  <class IOPlatformExpertDevice, id 0x10000010f, registered, retain 30>",
    "    +-o PCI0@0  <class IOPCIDevice, id 0x100000120, !registered, busy 0 (1 ms), retain 5>",
    "    | +-o GFX0  <class IOPCIDevice, id 0x100000120, retain 5>",
    "    | +-o GFX0  <class IOPCIDevice, id 0x100000121, id 0x2, retain 5>",
    "      +-o X  <class Y, id 0xXXXX, retain 5>", "   +-o Odd  <class Y, id 0x5, retain 1>",
    "    +-o Old  <class IOPCIDevice, retain count 3>", "+-o Second  <class Z, id 0x9>",
    "    +-o Cut  <class IOPCIDevice, id 0x1", "  +-o Drv  <class IOService:Drv, id 0x7>",
])
_VALUE = st.sampled_from([
    "1", "18446744073709551615", "18446744073709551616", "99999999999999999999",
    "00000000000000000042", "123456789012345678901", "1234567890123456789", "0x10",
    "0x10000000000000000", "Yes", "No", '"s"', '"a "b" c"', '"***"', '"<redacted>"', '"C02XXXXX"', '"', '"open', "<00ff>",
    "<0>", "<0 0>", "< 00 >", "<00 11>", "<>", '<"pci1,2">', '<"a","b">', '<"x***">', '("a",1)',
    '{"k"=0x1f,"b"=No}', "(1,", "1 ", "", "XXXX", '{"serial"="C02XXXXX"}', '("a",<00>)',
    "( 1,2)", '{"a"=(1,{"b"=Yes})}', '("***")', "(1)(2)",
])
_PROPERTY = st.builds(lambda lead, key, value: f'{lead}"{key}" = {value}',
                      st.sampled_from(["    | ", "      ", "  ", ""]),
                      st.sampled_from(["k", "IOClass", "IOProviderClass", ""]), _VALUE)
_NOISE = st.sampled_from(["    | {", "    | }", "  {", "  }", "    |   ", "", "junk", '  | t"'])
#: An entry as ioreg prints it with -l (its line, a block of properties), now and then
#: without its braces or with a line of noise.
_PRINTED_ENTRY = st.builds(
    lambda entry, opens, properties, closes, noise: [entry, *opens, *properties, *closes,
                                                     *noise],
    _ENTRY, st.sampled_from([["    | {"], ["  {"], []]), st.lists(_PROPERTY, max_size=5),
    st.sampled_from([["    | }"], ["  }"], []]), st.lists(_NOISE, max_size=1))


@settings(max_examples=200, deadline=None)
@given(st.lists(_PRINTED_ENTRY, max_size=8))
def test_any_dump_reads_the_same_on_either_road(entries: list[list[str]]) -> None:
    text = "\n".join(line for entry in entries for line in entry)
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert reading(text, monkeypatch, fast=True) == reading(text, monkeypatch, fast=False)


def test_every_corpus_dump_reads_the_same_on_either_road(monkeypatch: pytest.MonkeyPatch) -> None:
    dumps = sorted(CORPUS.glob("*.txt")) if CORPUS.is_dir() else []
    if not dumps:
        pytest.skip("the shared ioreg corpus is not here")
    for dump in dumps:
        text = dump.read_bytes().decode("utf-8", errors="replace")
        assert reading(text, monkeypatch, fast=True) == reading(text, monkeypatch, fast=False)
