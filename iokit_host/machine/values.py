"""Typed property values in machine-model TOML (IOKit's OSNumber/OSData/OSSet in a text file).

TOML has strings, booleans, integers, arrays and tables; a registry property also needs a bit
width for numbers, raw bytes, and sets. The encoding, both ways:

========================================  =================================================
TOML                                      property value
========================================  =================================================
``"text"``                                ``str`` (OSString)
``true`` / ``false``                      ``bool`` (OSBoolean)
``5``                                     ``OSNumber`` of 32 bits when it fits, else 64
``{ number = 5, bits = 16 }``             ``OSNumber(5, 16)``; ``number`` may be negative
                                          (two's complement) or a ``"0x..."`` string
``{ data = "e4140000" }``                 ``bytes`` from hex (whitespace ignored)
``{ le16 = .. }`` ``{ le32 = 0x14e4 }``   little-endian bytes, as PCI ids are published
``{ le64 = .. }``
``{ strings = ["a", "b"] }``              ``b"a\\0b\\0"``: NUL-terminated strings (compatible)
``{ set = [..] }``                        ``frozenset`` (OSSet)
``[ .. ]``                                ``list`` (OSArray)
``{ k = .. }``                            ``dict`` (OSDictionary)
``{ dict = { .. } }``                     a dictionary whose keys would read as one of the
                                          forms above
========================================  =================================================
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any, NoReturn

from iokit_sdk.values import (
    MAX_VALUE_DEPTH,
    MAX_VALUE_ITEMS,
    OSNumber,
    PropertyShapeError,
    check_shape,
    merges_in_a_set,
    number_bits,
)

from iokit_host.errors import quoted
from iokit_host.machine import errors as E
from iokit_host.machine.errors import MachineModelError

__all__ = ["TYPED_FORMS", "decode_properties", "decode_value", "default_bits", "encode_value"]

_WIDTHS = (8, 16, 32, 64)
_LE = {"le16": 2, "le32": 4, "le64": 8}
TYPED_FORMS: frozenset[frozenset[str]] = frozenset(
    frozenset(keys) for keys in (("number", "bits"), ("data",), ("le16",), ("le32",),
                                 ("le64",), ("strings",), ("set",), ("dict",)))
_HEX = frozenset(string.hexdigits)


def default_bits(value: int) -> int:
    """The width a plain TOML integer gets: 32 bits when it fits, else 64."""
    return 32 if value < (1 << 32) else 64


class _Site:
    """Where a value sits, for error messages: file, node path and key path."""

    __slots__ = ("file", "key", "node")

    def __init__(self, file: str | None, node: str | None, key: str) -> None:
        self.file, self.node, self.key = file, node, key

    def at(self, suffix: str) -> _Site:
        return _Site(self.file, self.node, self.key + suffix)

    def fail(self, reference: str, message: str, hint: str | None = None) -> NoReturn:
        raise MachineModelError(message, reference=reference, file=self.file, node=self.node,
                                key=self.key, hint=hint)


def decode_value(raw: Any, *, file: str | None = None, node: str | None = None,
                 key: str = "value") -> Any:
    """The property value a parsed TOML value stands for; raises MachineModelError."""
    site = _Site(file, node, key)
    if _holds_more_than(raw, MAX_VALUE_ITEMS):
        # Checked before any value is made: 16 million numbers took 4 GB and a minute.
        site.fail(E.TOO_LARGE, f"holds more than {MAX_VALUE_ITEMS} items (arrays' and "
                  "tables' members, counted through every level)", "split or shorten it")
    return _decode(raw, site, 0)


def decode_properties(table: Mapping[str, Any], *, file: str | None = None,
                      node: str | None = None, prefix: str = "") -> dict[str, Any]:
    """A property table's values decoded (:func:`decode_value`), each named
    ``prefix + key``; a key holding NUL is refused (an ``OSSymbol`` is a C string)."""
    for name in table:
        if "\0" in name:
            _Site(file, node, prefix + name).fail(E.BAD_VALUE, "a key must not contain NUL")
    return {name: decode_value(raw, file=file, node=node, key=prefix + name)
            for name, raw in table.items()}


def _holds_more_than(raw: Any, limit: int) -> bool:
    """Whether the property value ``raw`` stands for has more than ``limit`` members in all
    (an explicit stack: any depth), counted as the value's own arrays and dictionaries, as a
    dump's reader counts them: a typed form's table is its value's notation, not a member
    (``{ data = "..." }`` is one data value). Stops counting as soon as it is over."""
    stack = [raw]
    count = 0
    while stack:
        value = stack.pop()
        if isinstance(value, dict) and len(value) <= 2 and frozenset(value) in TYPED_FORMS:
            inner = value.get("set", value.get("dict"))
            if inner is None:  # a number, or data (bytes, little-endian, strings): one value
                continue
            value = inner  # a set's or a dictionary's members are the value's
        if isinstance(value, list):
            count += len(value)
            if count > limit:
                return True
            stack.extend(value)
        elif isinstance(value, dict):
            count += len(value)
            if count > limit:
                return True
            stack.extend(value.values())
    return False


def _decode(raw: Any, site: _Site, depth: int) -> Any:
    if isinstance(raw, (bool, str)):
        return raw
    if isinstance(raw, int):
        return _plain_number(raw, site)
    if isinstance(raw, list):
        depth = _deeper(site, depth)
        return [_decode(item, site.at(f"[{i}]"), depth) for i, item in enumerate(raw)]
    if isinstance(raw, dict):
        keys = frozenset(raw)
        if keys in TYPED_FORMS:
            return _decode_form(raw, keys, site, depth)
        depth = _deeper(site, depth)
        return {_key(k, site): _decode(v, site.at(f".{k}"), depth) for k, v in raw.items()}
    site.fail(E.WRONG_TYPE, f"a {type(raw).__name__} is not a property value",
              "use a string, boolean, integer, array, table or one of the typed forms "
              "({ number, bits }, { data }, { le32 }, { strings }, { set })")


def _deeper(site: _Site, depth: int) -> int:
    """One container further down; past the one nesting limit of property values, refused."""
    if depth >= MAX_VALUE_DEPTH:
        key = site.key if len(site.key) <= 80 else f"{site.key[:48]}…{site.key[-24:]}"
        _Site(site.file, site.node, key).fail(
            E.TOO_DEEP, f"nested {depth + 1} deep; property values nest at most "
            f"{MAX_VALUE_DEPTH} arrays or tables", "flatten the value")
    return depth + 1


def _shown(number: int) -> str:
    """A number for a message: huge ones by size, as int-to-text is capped at 4300 digits."""
    return str(number) if abs(number) < 1 << 256 else f"a {number.bit_length()}-bit number"


def _plain_number(value: int, site: _Site) -> OSNumber:
    if value < 0:
        site.fail(E.BAD_VALUE, f"plain integers are unsigned, not {_shown(value)}",
                  "write { number = -1, bits = 32 } for a two's-complement value")
    if value >= 1 << 64:
        site.fail(E.BAD_VALUE, f"{_shown(value)} does not fit in 64 bits")
    return OSNumber(value, default_bits(value))


def _decode_form(raw: dict[str, Any], keys: frozenset[str], site: _Site, depth: int) -> Any:
    if "bits" in keys:
        return _explicit_number(raw["number"], raw["bits"], site)
    (form,) = keys
    body = raw[form]
    if form == "data":
        return _hex_data(body, site.at(".data"))
    if form in _LE:
        return _little_endian(body, _LE[form], site.at(f".{form}"))
    if form == "strings":
        return _string_list(body, site.at(".strings"))
    if form == "set":
        return _set(body, site.at(".set"), depth)
    if not isinstance(body, dict):
        site.at(".dict").fail(E.WRONG_TYPE, f"expected a table, not {type(body).__name__}")
    depth = _deeper(site, depth)
    return {_key(k, site): _decode(v, site.at(f".{k}"), depth) for k, v in body.items()}


def _key(key: str, site: _Site) -> str:
    """A dictionary key: an OSSymbol, a C string, so never one holding NUL (``ioreg`` would
    print it raw, and no kernel could have made it)."""
    if "\0" in key:
        site.at(f".{key}").fail(E.BAD_VALUE, "a key must not contain NUL")
    return key


def _explicit_number(number: Any, bits: Any, site: _Site) -> OSNumber:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits not in _WIDTHS:
        site.at(".bits").fail(E.BAD_BITS, f"bit width must be 8, 16, 32 or 64, not {quoted(bits)}")
    if isinstance(number, str):
        number = _number_text(number, site.at(".number"))
    if isinstance(number, bool) or not isinstance(number, int):
        site.at(".number").fail(E.WRONG_TYPE,
                                f"expected an integer, not {type(number).__name__}")
    if not -(1 << (bits - 1)) <= number < (1 << bits):
        site.at(".number").fail(E.BAD_VALUE, f"{_shown(number)} does not fit in {bits} bits",
                                "widen bits, or write the value masked to the width")
    return OSNumber(number, bits)


def _number_text(text: str, site: _Site) -> int:
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        shown = repr(text) if len(text) <= 40 else f"{text[:20]!r}… ({len(text)} characters)"
        site.fail(E.BAD_VALUE, f"{shown} is not a 64-bit integer", "write 0x1F or 31")


def _hex_data(text: Any, site: _Site) -> bytes:
    if not isinstance(text, str):
        site.fail(E.WRONG_TYPE, f"expected a hex string, not {type(text).__name__}")
    digits = "".join(text.split())
    bad = next((c for c in digits if c not in _HEX), None)
    if bad is not None:
        site.fail(E.BAD_HEX, f"{quoted(bad)} is not a hex digit", "data is hex, e.g. \"e4140000\"")
    if len(digits) % 2:
        site.fail(E.BAD_HEX, f"odd number of hex digits ({len(digits)})",
                  "each byte takes two digits; add the missing leading 0")
    return bytes.fromhex(digits)


def _little_endian(value: Any, size: int, site: _Site) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int):
        site.fail(E.WRONG_TYPE, f"expected an integer, not {type(value).__name__}")
    if not 0 <= value < 1 << (8 * size):
        site.fail(E.BAD_VALUE, f"{_shown(value)} does not fit in {8 * size} bits")
    return value.to_bytes(size, "little")


def _string_list(items: Any, site: _Site) -> bytes:
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        site.fail(E.WRONG_TYPE, "expected an array of strings")
    if any("\x00" in s for s in items):
        site.fail(E.BAD_VALUE, "a string in strings may not contain NUL")
    try:
        return b"".join(s.encode("utf-8") + b"\x00" for s in items)
    except UnicodeEncodeError as error:
        site.fail(E.BAD_VALUE, f"string is not encodable as UTF-8: {error.reason}")


def _set(items: Any, site: _Site, depth: int) -> frozenset[Any]:
    if not isinstance(items, list):
        site.fail(E.WRONG_TYPE, f"expected an array, not {type(items).__name__}")
    depth = _deeper(site, depth)
    members = [_decode(item, site.at(f"[{i}]"), depth) for i, item in enumerate(items)]
    if any(isinstance(m, (list, dict)) for m in members):
        site.fail(E.WRONG_TYPE, "a set holds strings, numbers, booleans or data only")
    if merges_in_a_set(members):
        site.fail(E.BAD_VALUE, "a set holding true and 1 (or false and 0) cannot be kept as "
                  "one: Python's sets merge them, where IOKit's OSSet keeps both",
                  "write the members as a plain array: [...] rather than { set = [...] }")
    return frozenset(members)


# -- writing ------------------------------------------------------------------------------

def encode_value(value: Any, *, node: str | None = None, key: str = "value") -> Any:
    """The TOML value (str, bool, int, list, dict) that decodes back to ``value`` exactly.

    A value deeper than the nesting limit (or containing itself) raises MachineModelError:
    it could not be read back, and writing it would recurse without bound.
    """
    try:
        check_shape(value, key)
    except PropertyShapeError as error:
        _Site(None, node, error.path).fail(E.TOO_DEEP, error.reason)
    return _encode(value, _Site(None, node, key))


def _encode(value: Any, site: _Site) -> Any:
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return _encode_number(value, site)
    if isinstance(value, (bytes, bytearray)):
        return _encode_data(bytes(value))
    if isinstance(value, (list, tuple)):
        return [_encode(item, site.at(f"[{i}]")) for i, item in enumerate(value)]
    if isinstance(value, (frozenset, set)):
        members = sorted(value, key=lambda m: (type(m).__name__, repr(m)))
        return {"set": [_encode(m, site) for m in members]}
    if isinstance(value, Mapping):
        body = {str(k): _encode(v, site.at(f".{k}")) for k, v in value.items()}
        return {"dict": body} if frozenset(body) in TYPED_FORMS else body
    site.fail(E.WRONG_TYPE, f"a {type(value).__name__} is not a property value")


def _encode_number(value: int, site: _Site) -> Any:
    bits = number_bits(value)
    number = int(value)
    if not 0 <= number < 1 << bits:
        site.fail(E.BAD_VALUE, f"{_shown(number)} is not an unsigned {bits}-bit number")
    if number >= 1 << 63:
        # Beyond TOML's signed 64-bit integers: other readers would refuse the literal.
        return {"number": f"0x{number:x}", "bits": bits}
    return number if bits == default_bits(number) else {"number": number, "bits": bits}


def _encode_data(data: bytes) -> dict[str, Any]:
    strings = _as_strings(data)
    return {"strings": strings} if strings is not None else {"data": data.hex()}


def _as_strings(data: bytes) -> list[str] | None:
    if not data.endswith(b"\x00") or len(data) < 2:
        return None
    try:
        parts = data[:-1].decode("utf-8").split("\x00")
    except UnicodeDecodeError:
        return None
    if not all(part and part.isprintable() for part in parts):
        return None
    return parts
