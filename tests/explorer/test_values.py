"""Property values as the explorer's table shows them: typed, numbers with their width, data in
hex, and nesting or size from a user's machine bounded, never a RecursionError."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.values import OSNumber

from iokit_host.explorer.values import (
    MAX_DATA_BYTES,
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_TEXT,
    typed,
    typed_properties,
)

KINDS = {"boolean", "number", "string", "data", "array", "set", "dictionary", "unknown"}


def test_numbers_keep_their_width_and_travel_as_text() -> None:
    assert typed(OSNumber(0x14E4, 16)) == {"t": "number", "bits": 16, "dec": "5348",
                                           "hex": "0x14e4"}
    assert typed(2**64 - 1)["dec"] == "18446744073709551615"  # beyond a JavaScript number
    assert typed(-1) == {"t": "number", "bits": 64, "dec": "-1", "hex": "0xffffffffffffffff"}
    assert typed(True) == {"t": "boolean", "v": True}


def test_data_is_hex_with_its_whole_length() -> None:
    assert typed(b"\xe4\x14\x00\x00") == {"t": "data", "len": 4, "hex": "e4140000"}
    big = typed(bytes(MAX_DATA_BYTES + 10))
    assert big["len"] == MAX_DATA_BYTES + 10 and big["truncated"] is True
    assert len(big["hex"]) == 2 * MAX_DATA_BYTES


def test_a_long_string_or_key_is_cut_with_its_whole_length() -> None:
    assert typed("x" * MAX_TEXT) == {"t": "string", "v": "x" * MAX_TEXT}
    long = typed("y" * (1 << 20))
    assert long == {"t": "string", "v": "y" * MAX_TEXT, "len": 1 << 20, "truncated": True}
    ((key, value),) = typed_properties({"k" * (1 << 20): "v"})
    assert key == f"{'k' * MAX_TEXT}… ({1 << 20} characters)" and value["v"] == "v"
    assert typed({"k" * (MAX_TEXT + 1): 1})["entries"][0][0].endswith(
        f"({MAX_TEXT + 1} characters)")


def test_containers_keep_their_order_and_sets_are_sorted() -> None:
    assert typed({"b": 1, "a": "x"})["entries"] == [
        ["b", typed(1)], ["a", {"t": "string", "v": "x"}]]
    assert [i["v"] for i in typed(frozenset({"b", "a"}))["items"]] == ["a", "b"]


def test_nesting_past_the_limit_is_elided_not_recursed() -> None:
    value: Any = "leaf"
    for _ in range(50_000):
        value = [value]
    shown = typed(value)
    for _ in range(MAX_DEPTH):
        shown = shown["items"][0]
    assert shown == {"t": "array", "count": 1,
                     "elided": f"nested deeper than {MAX_DEPTH} levels"}


def test_an_entry_with_too_many_values_says_how_many_were_left_out() -> None:
    rows = typed_properties({"many": list(range(MAX_ITEMS + 500)), "z": 1})
    many = dict(rows)["many"]
    assert many["count"] == MAX_ITEMS + 500 and "more values not shown" in many["elided"]
    assert rows[-1][1].get("elided") is not None  # "z" did not fit either, and says so


def test_properties_are_sorted_by_key() -> None:
    assert [k for k, _ in typed_properties({"b": 1, "a": 2, "C": 3})] == ["C", "a", "b"]


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.binary()
    | st.builds(OSNumber, st.integers(0, 2**64 - 1), st.sampled_from([8, 16, 32, 64])),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5)
    | st.frozensets(st.text() | st.integers(), max_size=5),
    max_leaves=40)


@settings(max_examples=150, deadline=None)
@given(values)
def test_any_value_becomes_a_typed_record_json_can_carry(value: Any) -> None:
    shown = typed(value)
    assert shown["t"] in KINDS
    json.dumps(shown)
