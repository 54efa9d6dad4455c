"""Plist values through the kernel collection's JSON: decode(encode(v)) is v, types included."""

from __future__ import annotations

import datetime as dt
import json
import math
import plistlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.values import OSNumber

from iokit_host.kext import plistjson
from iokit_host.kext.plistjson import MAX_DEPTH, TAGS, ValueShapeError


def _through_json(value: Any) -> Any:
    """What a warm boot reads back from what a cold boot wrote."""
    return plistjson.decode(json.loads(json.dumps(plistjson.encode(value))))


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (True is not 1, an OSNumber keeps bits)."""
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, dict):
            if list(x) != list(y):
                return False
            pending.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y))
        elif isinstance(x, float) and math.isnan(x):
            if not math.isnan(y):
                return False
        elif x != y or (isinstance(x, OSNumber) and x.bits != y.bits):
            return False
    return True


# Strings that look like the encoding's own tags, or nearly.
_TAGGISH = st.sampled_from(sorted(TAGS | {"$", "$Data", "$data ", "$number", "$$data"}))
_KEYS = st.one_of(_TAGGISH, st.text(max_size=8))
_SCALARS = st.one_of(
    st.text(max_size=12), _TAGGISH, st.booleans(),
    st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1),
    st.integers(min_value=0, max_value=(1 << 64) - 1).flatmap(
        lambda n: st.sampled_from([b for b in (8, 16, 32, 64) if n < 1 << b]).map(
            lambda bits: OSNumber(n, bits))),
    st.floats(allow_nan=True, allow_infinity=True), st.binary(max_size=12),
    st.datetimes(min_value=dt.datetime(1, 1, 2)),
    st.integers(min_value=0, max_value=(1 << 64) - 1).map(plistlib.UID),
)
PLIST_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=25)


@settings(max_examples=200, deadline=None)
@given(PLIST_VALUES)
def test_round_trip_is_identity(value: Any) -> None:
    assert _same(_through_json(value), value)


@pytest.mark.parametrize("value", [
    {"$data": "AAAA"}, {"$date": "2020-01-01T00:00:00"}, {"$number": [5, 16]},
    {"$dict": {"$data": "AAAA"}}, {"$uid": 3}, [{"$data": "AAAA"}], {"a": {"$data": 5}},
])
def test_dictionaries_that_look_like_tags_stay_dictionaries(value: Any) -> None:
    assert _same(_through_json(value), value)


def test_tagged_values_keep_their_types() -> None:
    value = {"data": b"\x00\x01", "n": OSNumber(0xFFFF, 16), "flag": True, "one": 1,
             "when": dt.datetime(2024, 2, 29, 12, 0), "uid": plistlib.UID(7)}
    back = _through_json(value)
    assert _same(back, value) and back["n"].bits == 16 and back["flag"] is True


def test_too_deep_is_refused_both_ways_without_recursion() -> None:
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ValueShapeError, match="deeper"):
        plistjson.encode(deep)
    text = "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    with pytest.raises(ValueShapeError, match="deeper"):
        plistjson.decode(json.loads(text))


@pytest.mark.parametrize("value", [{1: "x"}, {"a": object()}, [{1.5}], {"a": None}])
def test_values_no_plist_holds_are_refused(value: Any) -> None:
    with pytest.raises(ValueShapeError):
        plistjson.encode(value)


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
              _TAGGISH),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_any_json_decodes_or_is_refused_with_our_error(value: Any) -> None:
    try:
        plistjson.decode(value)
    except ValueShapeError as error:
        assert "depth" in str(error) or any(tag in str(error) for tag in TAGS)


# Two-level tables (personalities, info dictionaries) take a one-pass road through encode;
# the pieces below make them, tag-like keys and values that leave that road included.
_TABLE_KEYS = st.sampled_from(["IOClass", "k", "$data", "$dict", "$number"])
_TABLE_LEAVES = st.one_of(st.integers(-5, 5), st.booleans(), st.text(max_size=3),
                          st.just(OSNumber(7, 16)), st.just(b"\x00"), st.just([1]))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_TABLE_KEYS, st.one_of(
    _TABLE_LEAVES, st.dictionaries(_TABLE_KEYS, _TABLE_LEAVES, max_size=3)), max_size=3))
def test_two_level_tables_survive_the_collection_exactly(table: dict[str, Any]) -> None:
    assert _same(_through_json(table), table)
