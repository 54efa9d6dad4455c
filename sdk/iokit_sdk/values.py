"""Typed registry property values: the libkern container types (OSNumber, OSString, OSData, ...).

IOKit stores properties as libkern objects. Here the Python types stand in for them:

======================  ==========================================================
libkern                 here
======================  ==========================================================
``OSNumber``            :class:`OSNumber`, an ``int`` that remembers its bit width
``OSString``/``OSSymbol`` ``str``
``OSData``              ``bytes``
``OSBoolean``           ``bool``
``OSArray``             ``list`` (or ``tuple``)
``OSDictionary``        ``dict`` with ``str`` keys
``OSSet``               ``frozenset``
======================  ==========================================================

A plain ``int`` is accepted wherever an ``OSNumber`` is and counts as 64 bits, as the
kernel's XML parser treats an ``<integer>`` without a ``size`` attribute.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

__all__ = [
    "SCALAR_TYPES",
    "OSNumber",
    "PropertyTypeError",
    "PropertyValue",
    "check_value",
    "equality_key",
    "number_bits",
    "values_equal",
]

_WIDTHS = (8, 16, 32, 64)


class OSNumber(int):
    """An unsigned number of 8, 16, 32 or 64 bits, masked to its width as ``OSNumber::init`` does.

    It is an ``int``, so it compares, hashes and does arithmetic by value: a 16-bit 5 equals a
    64-bit 5, which is ``OSNumber::isEqualTo``. Arithmetic results are plain ``int``.
    """

    bits: int

    def __new__(cls, value: int, bits: int = 64) -> OSNumber:  # noqa: PYI034 (int subclass)
        if bits not in _WIDTHS:
            raise ValueError(f"OSNumber width must be one of {_WIDTHS}, not {bits}")
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"OSNumber needs an int, not {type(value).__name__}")
        self = super().__new__(cls, value & ((1 << bits) - 1))
        self.bits = bits
        return self

    def __repr__(self) -> str:
        return f"OSNumber({int(self)}, bits={self.bits})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (OSNumber, (int(self), self.bits))


PropertyValue = (
    OSNumber | int | str | bytes | bool | list[Any] | tuple[Any, ...] | dict[str, Any]
    | frozenset[Any]
)


class PropertyTypeError(TypeError):
    """A value that is not one of the registry's property types, with the path to it."""

    def __init__(self, path: str, value: object) -> None:
        super().__init__(f"{path}: {type(value).__name__} is not a registry property type")
        self.path = path
        self.value = value


def number_bits(value: int) -> int:
    """The bit width of a number property: its own for an :class:`OSNumber`, else 64."""
    return value.bits if isinstance(value, OSNumber) else 64


#: The exact types of scalar property values (OSString, OSData, OSBoolean, OSNumber).
SCALAR_TYPES = frozenset({str, bytes, bool, int, OSNumber})


def check_value(value: object, path: str = "value") -> None:
    """Raise :class:`PropertyTypeError` unless ``value`` is a property value, recursively."""
    if isinstance(value, (str, bytes, bool, int)):
        return
    if isinstance(value, (list, tuple, frozenset)):
        for index, item in enumerate(value):
            check_value(item, f"{path}[{index}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise PropertyTypeError(f"{path} key {key!r}", key)
            check_value(item, f"{path}.{key}")
        return
    raise PropertyTypeError(path, value)


def values_equal(a: object, b: object) -> bool:
    """libkern's ``isEqualTo`` across types, as matching uses it.

    Numbers compare by value whatever their width; a string equals data holding the same
    bytes, optionally followed by one NUL (``OSString``/``OSData``, both directions);
    booleans compare by identity; arrays element by element; dictionaries key by key.
    """
    kind = type(a)
    if kind is type(b) and kind in SCALAR_TYPES:
        # The common case in matching (str to str, data to data, number to number): plain
        # equality is libkern's answer, and it skips the ABC checks below.
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, str) and isinstance(b, bytes):
        return _string_equals_data(a, b)
    if isinstance(a, bytes) and isinstance(b, str):
        return _string_equals_data(b, a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return _mappings_equal(a, b)
    both_numbers = isinstance(a, int) and isinstance(b, int)
    both_sets = isinstance(a, (frozenset, set)) and isinstance(b, (frozenset, set))
    if type(a) is not type(b) and not both_numbers and not both_sets:
        return False
    return bool(a == b)


def _mappings_equal(a: Mapping[Any, Any], b: Mapping[Any, Any]) -> bool:
    # A loop, not all(<generator>): the catalogue compares every new personality with those
    # already there for its class (IOCatalogue::addDrivers), and the generator doubled that.
    if len(a) != len(b):
        return False
    for key, value in a.items():
        if key not in b or not values_equal(value, b[key]):
            return False
    return True


def equality_key(value: object) -> Hashable:
    """A hashable key with ``values_equal(a, b)`` implying ``equality_key(a) == equality_key(b)``,
    so equal property values can be found by hashing and confirmed with :func:`values_equal`.

    Strings and data share a key space (a string equals data with its bytes and one optional
    NUL, so data drops one trailing NUL); numbers key by value, booleans apart from them.
    """
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value[:-1] if value.endswith(b"\x00") else value
    if isinstance(value, (list, tuple)):
        return ("array", tuple(equality_key(item) for item in value))
    if isinstance(value, Mapping):
        return ("dict", frozenset((key, equality_key(item)) for key, item in value.items()))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(value))
    try:  # a plist <real> and the like, which values_equal compares with ==
        hash(value)
    except TypeError:
        return ("other", id(value))
    return ("other", value)


def _string_equals_data(text: str, data: bytes) -> bool:
    raw = text.encode("utf-8")
    return data == raw or data == raw + b"\x00"
