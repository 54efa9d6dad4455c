"""ioreg's value syntax read back into typed values."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.values import MAX_VALUE_ITEMS, OSNumber

from iokit_host.ioreg.format import format_value
from iokit_host.ioreg_import import parse_dump
from iokit_host.ioreg_import.errors import ValueSyntaxError
from iokit_host.ioreg_import.fastvalues import UNPRINTED
from iokit_host.ioreg_import.text import line_decode
from iokit_host.ioreg_import.values import MAX_DEPTH, parse_value, read_carefully


@pytest.mark.parametrize(("text", "expected"), [
    ('"pid 215, WindowServer"', "pid 215, WindowServer"),
    ('"say "hi""', 'say "hi"'),  # top-level strings run to the end of the line
    ("536870912", 536870912),
    ("0x20000000", 0x20000000),
    ("Yes", True),
    ("No", False),
    ("<86800000>", bytes.fromhex("86800000")),
    ("<>", b""),
    ('<"PNP0A03">', b"PNP0A03\0"),
    ('<"pci106b,dc","pci8086,104">', b"pci106b,dc\0pci8086,104\0"),
    ("()", []),
    ('(<1c00000000000000>,"ACPIEventController")', [bytes.fromhex("1c00000000000000"),
                                                    "ACPIEventController"]),
    ('{"a"=1,"b"={"c"=No},"d"=(1,2)}', {"a": 1, "b": {"c": False}, "d": [1, 2]}),
    ("{}", {}),
    ("[1,2]", frozenset({1, 2})),
    ('[{"a"=1}]', [{"a": 1}]),
    ('"IOCommand is not serializable"', "IOCommand is not serializable"),
    ('{"k"=,"n"=1}', {"k": UNPRINTED, "n": 1}),  # ioreg printed nothing for such a string
    ("1.5", "1.5"),
])
def test_values(text: str, expected: object) -> None:
    assert parse_value(text) == expected


def test_number_widths() -> None:
    # A 32-bit OSNumber reaches ioreg as a CF SInt32, so one printed from 2**31 up was wider.
    widths = {text: parse_value(text).bits for text in
              ("2147483647", "2147483648", "4294967295", "18446744073709551615")}
    assert widths == {"2147483647": 32, "2147483648": 64, "4294967295": 64,
                      "18446744073709551615": 64}


_READERS = [parse_value, read_carefully]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**64 - 1) | st.sampled_from([2**31 - 1, 2**31, 2**32 - 1, 2**32,
                                                     2**63 - 1, 2**63, 2**64 - 1]),
       st.sampled_from(_READERS), st.sampled_from(["{0}", '{{"k"={0}}}', "({0},{0})"]))
def test_a_printed_number_prints_again_as_the_mac_printed_it(
        number: int, read: Callable[[str], object], shape: str) -> None:
    # Alone, in a dictionary, in an array: the fast reader's one-loop and JSON roads, and
    # the careful reader; decimal, and hex as ``ioreg -x`` prints it.
    for text, hex_numbers in ((shape.format(number), False),
                              (shape.format(f"0x{number:x}"), True)):
        assert format_value(read(text), hex_numbers) == text


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**64 - 1) | st.sampled_from([2**31 - 1, 2**31, 2**32 - 1, 2**63]))
def test_a_number_on_a_dump_line_prints_again_as_the_mac_printed_it(number: int) -> None:
    # The importer's own road: whole property lines (its one-regex line reader), not values.
    for text, hex_numbers in ((str(number), False), (f"0x{number:x}", True)):
        dump = ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 4>\n"
                "  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>\n"
                f'    | {{\n    |   "k" = {text}\n    | }}\n    | \n'
                "    +-o PCI0  <class IOPCIDevice, id 0x100000111, registered, retain 4>\n")
        (mac,) = [nub for _, nub in parse_dump(dump, strict=True).nubs() if "k" in nub.properties]
        assert format_value(mac.properties["k"], hex_numbers) == text


def test_a_string_ioreg_printed_as_nothing_prints_as_nothing_again() -> None:
    for text in ('{"Product"=,"VendorID"=1452}', '("a",)', ""):
        assert format_value(parse_value(text)) == text


_PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E).filter(
    lambda char: char != '"'), max_size=8)
_IOREG_VALUES = st.recursive(
    st.booleans() | _PRINTABLE | st.binary(max_size=12)
    | st.builds(OSNumber, st.integers(0, 2**64 - 1), st.sampled_from([32, 64]))
    | st.lists(_PRINTABLE.filter(bool), min_size=1, max_size=3).map(
        lambda parts: "\0".join(parts).encode() + b"\0"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_PRINTABLE, inner, max_size=3)
    | st.frozensets(_PRINTABLE | st.booleans(), max_size=3),
    max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(_IOREG_VALUES, st.booleans(), st.sampled_from(_READERS))
def test_what_ioreg_prints_reads_back_to_the_same_text(
        value: object, hex_numbers: bool, read: Callable[[str], object]) -> None:
    # render(parse(text)) == text for any text cfshow prints (strings without a quote, whose
    # end the text cannot show); parse(render(v)) prints as v does.
    text = format_value(value, hex_numbers)
    assert format_value(read(text), hex_numbers) == text


_PROPERTY = re.compile(r'^[ |]*  "(.*?)" = (.*)$')


def _decoded(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line_decode(line)  # as the importer reads a line that is not UTF-8


def test_every_value_of_the_corpus_dumps_prints_back_as_the_mac_printed_it(
        corpus: Path) -> None:
    dumps = sorted((corpus / "ioreg").glob("*.txt"))
    compared = 0
    for dump in dumps:
        raw = dump.read_bytes()
        hex_numbers = b'" = 0x' in raw[:4000]  # a dump ioreg -x wrote
        for line in raw.split(b"\n"):
            match = _PROPERTY.match(_decoded(line))
            if match is None or match.group(2).startswith("["):
                continue  # a set's order is CFSet's hash order, which the model cannot keep
            text = match.group(2)
            try:
                value = parse_value(text)
            except ValueSyntaxError:
                continue  # a string that goes on over the next lines (property_lines joins it)
            assert format_value(value, hex_numbers) == text, (dump.name, line)
            compared += 1
    assert compared > 10_000


def test_data_strings_may_hold_xml() -> None:
    text = '<"<dict ID="0"><key>CH</key></dict>">'
    assert parse_value(text) == b'<dict ID="0"><key>CH</key></dict>\0'


@pytest.mark.parametrize("text", ["<abc>", '{"a"=1', "(1 2)", "maybe", '<"x",y>', "{1}",
                                  "99999999999999999999999", '("open'])
def test_malformed_values_raise_with_a_column(text: str) -> None:
    with pytest.raises(ValueSyntaxError) as info:
        parse_value(text)
    assert 0 <= info.value.column <= len(text)


def test_nesting_is_bounded() -> None:
    with pytest.raises(ValueSyntaxError, match="nested"):
        parse_value("(" * (MAX_DEPTH + 5) + ")" * (MAX_DEPTH + 5))


def test_huge_line_parses_in_linear_time() -> None:
    text = "{" + ",".join(f'"Class{i}"={i}' for i in range(40000)) + "}"
    assert len(parse_value(text)) == 40000


@pytest.mark.parametrize("digits", ["9" * 4301, "1" * 100_000, "0x" + "f" * 5000, "1" * 21])
def test_huge_numbers_are_a_syntax_error_not_a_conversion_error(digits: str) -> None:
    # int() refuses decimal text over 4300 digits with a bare ValueError.
    with pytest.raises(ValueSyntaxError, match="wider than 64 bits"):
        parse_value(digits)
    with pytest.raises(ValueSyntaxError, match="wider than 64 bits"):
        parse_value(f'{{"n"=({digits})}}')


def test_leading_zeros_do_not_make_a_number_wide() -> None:
    assert parse_value("0" * 5000 + "42") == 42


def test_very_deep_nesting_is_refused_without_exhausting_the_stack() -> None:
    with pytest.raises(ValueSyntaxError, match="nested deeper"):
        parse_value("{" * 200_000 + "}" * 200_000)


def test_trailing_blanks_after_a_top_level_string_are_not_part_of_it() -> None:
    assert parse_value('"say "hi""   \t') == 'say "hi"'


@pytest.mark.parametrize("text", ["(" + "1," * MAX_VALUE_ITEMS + "1)",
                                  "(" + "(1,2)," * (MAX_VALUE_ITEMS // 2) + "())",
                                  "{" + '"a"=1,' * MAX_VALUE_ITEMS + '"b"=2}'])
def test_a_value_larger_than_a_property_may_be_is_a_syntax_error(text: str) -> None:
    # The model refuses such a value, and with it the whole machine; refused here, the
    # importer drops only that property.
    with pytest.raises(ValueSyntaxError, match=f"more than {MAX_VALUE_ITEMS} items"):
        parse_value(text)


@pytest.mark.parametrize("read", _READERS)
def test_a_set_of_yes_and_1_keeps_both_members_as_an_array(read: Callable[[str], object]) -> None:
    # An OSBoolean is never equal to an OSNumber, but Python's sets merge True and 1: a
    # frozenset would lose one, so the members are kept in the order printed.
    value = read('[1,Yes,"a"]')
    assert isinstance(value, list) and [type(member) for member in value] == [
        OSNumber, bool, str]
    assert read('{"s"=[No,0]}') == {"s": [False, 0]}
    assert read("[1,2,Yes]") == [1, 2, True] and read("[1,Yes,Yes]") == [1, True, True]
    assert read("[Yes,No]") == frozenset({True, False})  # no number: a set as ever
