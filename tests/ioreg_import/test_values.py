"""ioreg's value syntax read back into typed values."""

from __future__ import annotations

import pytest
from iokit_sdk.values import MAX_VALUE_ITEMS, OSNumber

from iokit_host.ioreg_import.errors import ValueSyntaxError
from iokit_host.ioreg_import.values import MAX_DEPTH, parse_value


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
    ('{"k"=,"n"=1}', {"k": "", "n": 1}),  # ioreg prints nothing for unconvertible strings
    ("1.5", "1.5"),
])
def test_values(text: str, expected: object) -> None:
    assert parse_value(text) == expected


def test_number_widths() -> None:
    small, big = parse_value("4294967295"), parse_value("18446744073709551615")
    assert isinstance(small, OSNumber) and small.bits == 32
    assert isinstance(big, OSNumber) and big.bits == 64


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
