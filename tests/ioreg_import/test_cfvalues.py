"""Property-list values become typed registry values, and what is none is refused by path."""

from __future__ import annotations

import datetime
import plistlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.ioreg.format import format_value
from iokit_host.ioreg_import.cfvalues import CFValueError, typed_properties, typed_value


def test_numbers_take_their_width_and_negatives_their_unsigned_value() -> None:
    assert typed_value(5).bits == 32
    assert typed_value((1 << 31) - 1).bits == 32
    # A positive CF integer past an SInt32 was a wider OSNumber: as 32 bits it would print
    # sign-extended (3758096384 as 18446744073172680704).
    assert typed_value(1 << 31).bits == 64 and typed_value((1 << 32) - 1).bits == 64
    assert typed_value(1 << 40).bits == 64
    assert typed_value(-1) == 0xFFFFFFFF and typed_value(-1).bits == 32
    assert typed_value(-(1 << 40)) == (1 << 64) - (1 << 40)
    with pytest.raises(CFValueError):
        typed_value(1 << 64)


def test_containers_nest_and_reals_dates_become_text() -> None:
    value = typed_properties({"a": [1, {"b": b"\x00", "c": True}], "r": 0.5,
                              "d": datetime.datetime(2012, 1, 2)})
    assert value["a"][1] == {"b": b"\x00", "c": True}
    assert value["r"] == "0.5" and value["d"].startswith("2012-01-02")


def test_non_values_are_refused_naming_the_path() -> None:
    with pytest.raises(CFValueError) as caught:
        typed_properties({"a": [{"b": plistlib.UID(3)}]})
    assert caught.value.path == "properties.a[0].b"
    with pytest.raises(CFValueError):
        typed_properties({"a": {1: 2}})
    with pytest.raises(CFValueError):
        typed_properties([1])


def test_a_value_containing_itself_is_refused_not_recursed() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(CFValueError) as caught:
        typed_value({"x": loop})
    assert "deeper" in caught.value.reason
    deep: list[object] = []
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(CFValueError):
        typed_value(deep)


@settings(max_examples=200, deadline=None)
@given(st.integers(-(1 << 63), (1 << 64) - 1))
def test_an_archived_integer_prints_as_ioreg_prints_its_cf_number(number: int) -> None:
    # ioreg -a wrote the CF number; ioreg printed the same number as %qu of its long long.
    typed = typed_value(number)
    assert format_value(typed) == str(number % (1 << 64))
    assert format_value(typed, hex_numbers=True) == f"0x{number % (1 << 64):x}"
