"""One property line of a dump read back: raw multi-line strings joined, never past the
block's next property or its end, and values that do not read reported against their line."""

from __future__ import annotations

from typing import Any

from iokit_host.ioreg_import.damage import BAD_VALUE, REDACTED
from iokit_host.ioreg_import.property_lines import MAX_CONTINUATION, read_property

_LEAD = 4  # '| | ' before each property of the block


def _read(lines: list[str]) -> tuple[dict[str, Any], list[tuple[Any, int, str]], int]:
    properties: dict[str, Any] = {}
    pending: list[tuple[Any, int, str]] = []
    first = lines[0]
    following = read_property(lines, 1, first.lstrip(" |"), _LEAD, properties, pending)
    return properties, pending, following


def test_a_raw_string_holding_newlines_is_joined_across_its_lines() -> None:
    lines = ['| | "banner" = "first', "second", 'third"', '| | "next" = 1']
    properties, pending, following = _read(lines)
    assert properties == {"banner": "first\nsecond\nthird"} and not pending
    assert following == 3  # the next line to read is the block's next property


def test_a_string_never_swallows_the_next_property_or_the_block_end() -> None:
    properties, pending, following = _read(['| | "cut" = "no end', '| | "next" = 1', "| }"])
    assert properties == {} and following == 1
    assert [(kind, number) for kind, number, _ in pending] == [(BAD_VALUE, 1)]
    assert "'cut'" in pending[0][2] and "unterminated string" in pending[0][2]


def test_a_string_continues_at_most_the_limit_of_lines() -> None:
    lines = ['| | "long" = "start', *(["more"] * (MAX_CONTINUATION + 5))]
    properties, pending, following = _read(lines)
    assert properties == {} and following == MAX_CONTINUATION + 1
    assert pending[0][0] is BAD_VALUE


def test_masked_values_are_reported_as_redacted_and_plain_damage_as_bad() -> None:
    properties, pending, _ = _read(['| | "serial" = <private>'])
    assert properties == {} and pending[0][0] is REDACTED and "dropped" in pending[0][2]
    properties, pending, _ = _read(['| | "broken" = <zz>'])
    assert properties == {} and pending[0][0] is BAD_VALUE
    properties, pending, _ = _read(['| | no key here'])
    assert pending == [(BAD_VALUE, 1, "property line without '\"key\" = value'")]


def test_a_bad_value_is_placed_at_its_column_of_the_line_as_an_editor_counts() -> None:
    _, pending, _ = _read(['| | "caps" = (1,2,x,4)'])
    assert pending[0][2] == "property 'caps': unexpected 'x' at column 19"
    # On a line a raw string went on to, that line and its column.
    _, pending, _ = _read(['| | "s" = ("a', 'b",x)'])
    assert pending[0][2] == "property 's': unexpected 'x' at line 2, column 4"
