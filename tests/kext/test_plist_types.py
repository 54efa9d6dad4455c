"""Manifest value types: the plist names used in diagnostics, and values the kernel cannot hold."""

from __future__ import annotations

import datetime as dt
import plistlib
from typing import Any

import pytest

from iokit_host.kext.plist_types import Unsupported, describe, find_unsupported


@pytest.mark.parametrize(("value", "text"), [
    ("x", "a string ('x')"), (5, "an integer (5)"), (True, "a boolean (True)"),
    (1.5, "a real (1.5)"), (b"\x01", "a data (b'\\x01')"), ([1], "an array"),
    ({"a": 1}, "a dictionary"), (dt.datetime(2020, 1, 2), "a date (2020-01-02T00:00:00)"),
    (plistlib.UID(3), "a UID (UID(3))"),
])
def test_describe_names_plist_kinds(value: object, text: str) -> None:
    assert describe(value) == text


def test_long_scalars_are_shortened() -> None:
    assert len(describe("x" * 500)) < 60


@pytest.mark.parametrize(("value", "found"), [
    ({"a": [1, "x", b"", True, {"b": 2}]}, None),
    ({"a": [1, 2.5]}, Unsupported("K.a[1]", "a real (2.5)")),
    ([{"d": dt.datetime(2001, 1, 1)}], Unsupported("K[0].d", "a date (2001-01-01T00:00:00)")),
    ({"a": {7: "x"}}, Unsupported("K.a", "a dictionary key that is an integer (7)")),
    ({"a": plistlib.UID(1)}, Unsupported("K.a", "a UID (UID(1))")),
])
def test_find_unsupported(value: object, found: Unsupported | None) -> None:
    assert find_unsupported(value, "K") == found


def test_deep_shared_and_cyclic_values_cost_one_pass() -> None:
    deep: list[Any] = []
    inner = deep
    for _ in range(100_000):  # far past the recursion limit
        inner.append([])
        inner = inner[0]
    inner.append(0.5)
    assert find_unsupported(deep, "K") is not None
    shared: list[Any] = [1]
    for _ in range(200):  # 2**200 paths if shared containers were walked once per path
        shared = [shared, shared]
    assert find_unsupported(shared, "K") is None
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    assert find_unsupported(cyclic, "K") is None


def test_a_null_dictionary_key_from_a_damaged_binary_plist_is_found() -> None:
    # A bplist null object (byte 0x00) read as a key: the naming pass missed it and crashed.
    found = find_unsupported({"P": {None: 1, "IOClass": "X"}}, "IOKitPersonalities")
    assert found == Unsupported("IOKitPersonalities.P", "a dictionary key that is a NoneType "
                                                         "(None)")


def test_a_tuple_holding_kernel_values_does_not_hide_a_real_after_it() -> None:
    # The quick pass returned at the first tuple, answering for the whole value.
    found = find_unsupported({"b": 1.5, "a": (1, 2)}, "P")
    assert found == Unsupported("P.b", "a real (1.5)")
