"""OSKextVersion grammar, encoding, formatting and the two compatibility rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iokit_host.errors import IOKitError
from iokit_host.kext.version import (
    KextVersionError,
    format_version,
    is_compatible,
    parse_version,
    try_parse_version,
)


def test_scenario_5_versions_and_both_rules() -> None:
    # Appendix B scenario 5.
    assert parse_version("1.0fc1") < parse_version("1.0")
    for bad in ("1.0f0", "1.0fc0", "10000.0"):
        with pytest.raises(KextVersionError) as caught:
            parse_version(bad)
        assert caught.value.ref == "kext-version-invalid"
    version, compat = parse_version("2.0"), parse_version("1.0")
    for rule in ("user", "kernel"):
        assert is_compatible(version, compat, parse_version("1.5"), rule=rule)
    assert is_compatible(version, compat, parse_version("0.9"), rule="kernel")
    assert not is_compatible(version, compat, parse_version("0.9"), rule="user")


def test_stage_order() -> None:
    ordered = ["1.0d1", "1.0a1", "1.0b1", "1.0fc1", "1.0", "1.0.1", "1.1d1"]
    values = [parse_version(v) for v in ordered]
    assert values == sorted(values) and len(set(values)) == len(values)


@pytest.mark.parametrize(("text", "value"), [
    ("1.2.3b4", 1_0002_0003_5004),
    ("1", 1_0000_0000_9000),
    ("1b3", 1_0000_0000_5003),
    ("9999.9999.9999", 9999_9999_9999_9000),
    ("1.0d0", 1_0000_0000_1000),
    ("1.0b255", 1_0000_0000_5255),
    ("1.0 trailing text", 1_0000_0000_9000),
    ("1.0f1", parse_version("1.0fc1")),
])
def test_encoding(text: str, value: int) -> None:
    assert parse_version(text) == value


@pytest.mark.parametrize("text", [
    "", "v1", "1.0b256", "1.0b1000", "1.0.0.1", "12345", "1.23456", "1.0fc", "1.0b", "1.0x1",
    "1.0.0a1b",
    "\uff11.\uff10", "\u0661.\u0660", "1.\uff10", "1.0b\uff13",  # not ASCII digits, as OSKext
])
def test_invalid(text: str) -> None:
    assert try_parse_version(text) == -1


@pytest.mark.parametrize(("text", "printed"), [
    ("2", "2.0"), ("1.2.0", "1.2"), ("1.2.3", "1.2.3"), ("1.2b3", "1.2b3"),
    ("1.0fc2", "1.0f2"), ("3.0d7", "3.0d7"),
])
def test_format(text: str, printed: str) -> None:
    assert format_version(parse_version(text)) == printed


def test_missing_and_invalid_format() -> None:
    assert format_version(0) == "(missing)"
    assert format_version(-1) == "(invalid)"


def test_library_without_compatible_version_satisfies_nothing() -> None:
    assert not is_compatible(parse_version("2.0"), None, parse_version("1.0"), rule="kernel")


@given(st.text(max_size=20))
def test_parse_never_crashes(text: str) -> None:
    try:
        value = parse_version(text)
    except IOKitError:
        return
    assert value > 0
    assert parse_version(format_version(value)) == value


@given(st.integers(0, 9999), st.integers(0, 9999), st.integers(0, 9999),
       st.sampled_from(["", "d", "a", "b", "fc"]), st.integers(1, 255))
def test_round_trip(major: int, minor: int, revision: int, stage: str, level: int) -> None:
    text = f"{major}.{minor}.{revision}" + (f"{stage}{level}" if stage else "")
    if major == 0 and minor == 0 and revision == 0 and not stage:
        return  # encodes a release 0.0.0, still valid
    value = parse_version(text)
    assert parse_version(format_version(value)) == value
