"""Value formatting as ioreg's cfshow prints it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from iokit_sdk.values import OSNumber

from iokit_host.ioreg.format import data_strings, format_value


@pytest.mark.parametrize(("value", "text"), [
    (OSNumber(0xFFFFFFFF, 32), "18446744073709551615"),  # CF SInt32 -1, read as %qu
    (OSNumber(0xFFFFFF9C, 32), "18446744073709551516"),  # IOProbeScore -100 in the dumps
    (OSNumber(0xFFFFFFFF, 64), "4294967295"),
    (OSNumber(0xFF, 8), "255"),
    (OSNumber(0x8000, 16), "32768"),
    (OSNumber(2**64 - 1, 64), "18446744073709551615"),
    (-1, "18446744073709551615"),
    (536870912, "536870912"),
    (True, "Yes"),
    (False, "No"),
    ("pci14e4,4331", '"pci14e4,4331"'),
])
def test_scalars(value: object, text: str) -> None:
    assert format_value(value) == text


def test_hex_numbers() -> None:
    assert format_value(OSNumber(0x20000000, 32), hex_numbers=True) == "0x20000000"
    assert format_value(OSNumber(0xFFFFFFFF, 32), hex_numbers=True) == "0xffffffffffffffff"
    assert format_value(OSNumber(0xFFFFFFFF, 64), hex_numbers=True) == "0xffffffff"


@pytest.mark.parametrize(("data", "text"), [
    (b"MacBookPro8,2\x00", '<"MacBookPro8,2">'),
    (b"pci106b,d6\x00pci14e4,4331\x00pciclass,028000\x00",
     '<"pci106b,d6","pci14e4,4331","pciclass,028000">'),
    (b"1.0", '<"1.0">'),
    (b"\x00", "<00>"),
    (b"A", "<41>"),  # one byte is never a string
    (b"\x00abc", "<00616263>"),
    (b"abc\x00\x00\x00", "<616263000000>"),  # padding after the string means hex (x86 ioreg)
    (b"\x00\x00\x00\x00", "<00000000>"),
    (b"\xe4\x14\x00\x00", "<e4140000>"),
    (b"", "<>"),
    (b"abcd\xe9", '<"abcd\udce9">'),  # high-order symbols allowed when rare enough,
    # printed as the byte itself (a surrogate escape the iokit command writes as that byte)
    (b"abc\xe9", "<616263e9>"),  # ...but not more than 1 in 5
])
def test_data(data: bytes, text: str) -> None:
    assert format_value(data) == text


def test_data_is_always_hex_with_x() -> None:
    assert format_value(b"1.0\x00", hex_numbers=True) == "<312e3000>"


def test_containers_nest_without_spaces() -> None:
    value = {"IODeviceMemory": [[{"address": 2959081472, "length": 16384}]],
             "empty": [], "flags": frozenset({3, 1, 2}), "on": True}
    assert format_value(value) == ('{"IODeviceMemory"=(({"address"=2959081472,"length"=16384}))'
                                   ',"empty"=(),"flags"=[1,2,3],"on"=Yes}')


def test_tuple_is_an_array() -> None:
    assert format_value(("io-apic-0", "IOPCIMessagedInterruptController")) == \
        '("io-apic-0","IOPCIMessagedInterruptController")'


#: Keys a registry holds: no NUL (an OSSymbol is a C string; set_property refuses one).
keys = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"))
values = st.recursive(
    st.booleans() | st.integers(-(2**70), 2**70) | st.text() | st.binary()
    | st.builds(OSNumber, st.integers(0, 2**64 - 1), st.sampled_from([8, 16, 32, 64])),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4)
    # Members within 64 bits: two past it can be cut into one (0 and 2**64), a set no OSSet
    # holds, printed with the member twice.
    | st.frozensets(st.integers(-(2**63), 2**64 - 1) | st.text(), max_size=4),
    max_leaves=20)


@given(values, st.booleans())
def test_format_never_raises(value: object, hex_numbers: bool) -> None:
    assert isinstance(format_value(value, hex_numbers), str)


@given(st.lists(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1),
                min_size=1, max_size=4))
def test_nul_separated_printable_strings_print_as_strings(parts: list[str]) -> None:
    data = b"\x00".join(p.encode() for p in parts) + b"\x00"
    if len(data) > 1:
        assert data_strings(data) == parts


@pytest.mark.parametrize(("value", "text"), [
    ("Alexander\u2019s MacBook", '"Alexander\u2019s MacBook"'),  # Mac OS Roman holds it
    ("MacBook Pro\u00a0\u2014 Sam", '"MacBook Pro\u00a0\u2014 Sam"'),
    ("Apple UDIF, \u0441\u0436\u0430\u0442\u044b\u0439", ""),  # no C string: printed nothing
    ("\ufffd", ""),  # what a value printed as nothing reads back as
    ("", '""'),  # an empty string is a C string
    ("IOHID\x00tail", '"IOHID"'),  # %s stops at a NUL
])
def test_strings_print_as_cfstringshow_does(value: str, text: str) -> None:
    assert format_value(value) == text
    assert format_value({"k": value}) == f'{{"k"={text}}}'


def test_data_strings_print_their_bytes_so_utf8_text_reads_as_itself() -> None:
    # ioreg prints each byte with %c: UTF-8 in NVRAM shows as the text it is.
    assert format_value("Admin\u2019s MacBook Pro".encode() + b"\x00") == \
        '<"Admin\u2019s MacBook Pro">'


@given(st.text(min_size=1, max_size=12))
def test_a_string_prints_as_itself_or_as_nothing(value: str) -> None:
    text = format_value(value)
    head = value.split("\x00", 1)[0]
    assert text in ("", f'"{head}"')
    assert (text == "") == (not value.isascii() and any(
        char not in _MAC_ROMAN for char in value))


_MAC_ROMAN = frozenset(bytes(range(256)).decode("mac_roman"))
