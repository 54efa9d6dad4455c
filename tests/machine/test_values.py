"""Typed property values in model files: each TOML form reads as the libkern type it names."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from iokit_sdk.values import OSNumber

from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.tomltext import format_inline
from iokit_host.machine.values import decode_value, encode_value

from .conftest import typed


def read(text: str) -> object:
    return decode_value(tomllib.loads(f"v = {text}")["v"], node="root/X", key="v")


@pytest.mark.parametrize(("text", "expected"), [
    ("5", OSNumber(5, 32)),
    ("0xFFFFFFFF", OSNumber(0xFFFFFFFF, 32)),
    ("0x100000000", OSNumber(1 << 32, 64)),
    ("{ number = 5, bits = 16 }", OSNumber(5, 16)),
    ("{ number = -1, bits = 32 }", OSNumber(0xFFFFFFFF, 32)),
    ('{ number = "0xffffffffffffffff", bits = 64 }', OSNumber((1 << 64) - 1, 64)),
])
def test_numbers_keep_their_width(text: str, expected: OSNumber) -> None:
    value = read(text)
    assert typed(value) == typed(expected)


def test_pci_ids_read_as_little_endian_data() -> None:
    assert read("{ le32 = 0x14e4 }") == bytes.fromhex("e4140000")
    assert read('{ data = "e4 14 00 00" }') == bytes.fromhex("e4140000")
    assert read("{ le16 = 0x05ac }") == b"\xac\x05"


def test_compatible_reads_as_nul_terminated_strings() -> None:
    assert read('{ strings = ["pci106b,d6", "pci14e4,4331"] }') == b"pci106b,d6\0pci14e4,4331\0"


def test_sets_arrays_and_dictionaries() -> None:
    assert read('{ set = ["a", "b"] }') == frozenset({"a", "b"})
    assert read('[1, "x", true]') == [1, "x", True]
    assert read('{ dict = { data = "not hex" } }') == {"data": "not hex"}
    assert read("{ a = { b = 1 } }") == {"a": {"b": 1}}


@pytest.mark.parametrize(("text", "reference"), [
    ("{ number = 5, bits = 12 }", "machine-model-bad-bits"),
    ("{ number = 300, bits = 8 }", "machine-model-bad-value"),
    ('{ data = "e414g0" }', "machine-model-bad-hex"),
    ('{ data = "e41" }', "machine-model-bad-hex"),
    ("-1", "machine-model-bad-value"),
    ("1.5", "machine-model-wrong-type"),
    ("{ le32 = 0x100000000 }", "machine-model-bad-value"),
    ("{ strings = [1] }", "machine-model-wrong-type"),
    ("{ set = [[1]] }", "machine-model-wrong-type"),
    ("{ set = [1, true] }", "machine-model-bad-value"),  # a frozenset would keep one
    ('{ set = [false, "x", 0] }', "machine-model-bad-value"),
])
def test_bad_values_name_the_node_and_key(text: str, reference: str) -> None:
    with pytest.raises(MachineModelError) as caught:
        read(text)
    assert caught.value.ref == reference
    assert caught.value.diagnostic.subject == "root/X"
    assert caught.value.diagnostic.key is not None and caught.value.diagnostic.key.startswith("v")


scalars = st.one_of(
    st.booleans(),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=8),
    st.builds(OSNumber, st.integers(0, (1 << 64) - 1), st.sampled_from([8, 16, 32, 64])),
    st.binary(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        # Keys without NUL: an OSSymbol is a C string (a model refuses a NUL key).
        st.dictionaries(st.text(st.characters(exclude_categories=("Cs",),
                                              exclude_characters="\0"), max_size=6),
                        inner, max_size=4),
        st.frozensets(st.text(max_size=4), max_size=3),
    ),
    max_leaves=12,
)


@given(values)
def test_every_property_value_survives_writing_and_reading(value: object) -> None:
    text = f"v = {format_inline(encode_value(value))}"
    assert typed(decode_value(tomllib.loads(text)["v"])) == typed(value)


def nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_values_nest_up_to_the_one_limit() -> None:
    assert decode_value(nested(128), key="v") == nested(128)
    assert encode_value(nested(128)) == nested(128)


@pytest.mark.parametrize("raw", [nested(129), {"set": [nested(128)]}, {"dict": {"a": nested(128)}}])
def test_deeper_values_are_refused_with_key_and_depth(raw: object) -> None:
    with pytest.raises(MachineModelError) as caught:
        decode_value(raw, file="m.toml", node="root/X", key="properties.deep")
    error = caught.value
    assert error.ref == "machine-model-too-deep"
    assert error.diagnostic.file == "m.toml"
    assert error.diagnostic.key is not None
    assert error.diagnostic.key.startswith("properties.deep")
    assert "129 deep" in error.diagnostic.message


@pytest.mark.parametrize("value", [nested(2000), "cyclic"])
def test_values_too_deep_or_cyclic_cannot_be_written(value: object) -> None:
    if value == "cyclic":
        value = [1]
        value.append(value)  # type: ignore[attr-defined]
    with pytest.raises(MachineModelError) as caught:
        encode_value(value, node="root/X", key="properties.v")
    assert caught.value.ref == "machine-model-too-deep"


@pytest.mark.parametrize("text", [
    "{ le32 = 0x" + "f" * 5000 + " }",
    '{ number = "0x' + "f" * 5000 + '", bits = 8 }',
    '{ number = "' + "1" * 5000 + '", bits = 8 }',
])
def test_huge_numbers_are_refused_in_a_short_message(text: str) -> None:
    with pytest.raises(MachineModelError) as caught:
        read(text)
    assert caught.value.ref == "machine-model-bad-value"
    assert len(str(caught.value)) < 300
