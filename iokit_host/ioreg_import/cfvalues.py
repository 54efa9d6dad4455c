"""Property values as a property list holds them, made typed (the inverse of IOKitLib's
``IORegistryEntryCreateCFProperties`` and of ``ioreg -a``'s CF values).

``ioreg -a`` and IORegistryExplorer archive each entry's properties as a property list, i.e.
the CoreFoundation objects user space sees, not the kernel's libkern ones. The rules, each what
IOKitLib did on the way out:

- ``<integer>`` carries no width. A value below 2**31 becomes a 32-bit ``OSNumber``, anything
  larger 64-bit (a positive one past an SInt32 was an SInt64: :mod:`.widths`), as the text
  importer does (matching ignores width: ``OSNumber::isEqualTo``).
  A negative one is a CF SInt32 or SInt64 that held an unsigned kernel number (IOKitLib makes
  a 32-bit 0xFFFFFFFF the SInt32 -1), so it is read back as its two's complement.
- ``<real>`` has no registry type; it is kept as its text, as the text importer keeps a
  printed fraction. ``<date>`` likewise becomes its ISO text.
- Sets became arrays on the way out and stay arrays.

Nothing else is a property value: a dictionary key that is not a string, an archiver ``UID``,
a number wider than 64 bits, a value nested deeper than ``MAX_VALUE_DEPTH`` or holding more
than ``MAX_VALUE_ITEMS`` items (a binary plist can refer to one array many times, or to
itself) raises :class:`CFValueError` naming the path to it, and so does an
:class:`UnreadableValue`, which a document reader leaves where a value's text did not parse
(``<date>soon</date>``). The walk is iterative.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from iokit_sdk.values import MAX_VALUE_DEPTH, MAX_VALUE_ITEMS, OSNumber

from iokit_host.ioreg_import.widths import printed_width
from iokit_host.kext.plistvalues import UnreadableValue

__all__ = ["CFValueError", "UnreadableValue", "check_key", "typed_properties", "typed_value"]


class CFValueError(ValueError):
    """A value that is not a registry property value; ``path`` leads to it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def typed_properties(table: Any, path: str = "properties") -> dict[str, Any]:
    """A property table (a plist dictionary) with every value typed (see the module doc)."""
    if not isinstance(table, Mapping):
        raise CFValueError(path, f"a property table is a dictionary, not {_kind(table)}")
    value = typed_value(table, path)
    assert isinstance(value, dict)
    return value


def typed_value(value: Any, path: str = "value") -> Any:
    """One plist value as a registry property value (see the module doc)."""
    scalar = _scalar(value, path)
    if scalar is not _CONTAINER:
        return scalar
    items = 0
    top: Any = {} if isinstance(value, Mapping) else []
    # Each task: a source container, the typed container it fills, its depth and path.
    tasks: list[tuple[Any, Any, int, str]] = [(value, top, 1, path)]
    while tasks:
        source, target, depth, where = tasks.pop()
        if depth > MAX_VALUE_DEPTH:
            raise CFValueError(where, f"nested deeper than {MAX_VALUE_DEPTH} (or contains "
                               "itself)")
        pairs = _pairs(source, where)
        items += len(pairs)
        if items > MAX_VALUE_ITEMS:
            raise CFValueError(where, f"holds more than {MAX_VALUE_ITEMS} items")
        for key, item in pairs:
            here = f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]"
            typed = _scalar(item, here)
            if typed is _CONTAINER:
                typed = {} if isinstance(item, Mapping) else []
                tasks.append((item, typed, depth + 1, here))
            if isinstance(target, dict):
                target[key] = typed
            else:
                target.append(typed)
    return top


_CONTAINER = object()


def check_key(key: Any, where: str) -> None:
    """Refuse a dictionary key no kernel could have made: one that is not a string, or holds
    a NUL (an ``OSSymbol`` is a C string; ``ioreg`` would print it raw).

    :raises CFValueError: naming ``where``."""
    if not isinstance(key, str):
        raise CFValueError(where, f"a dictionary key is {_kind(key)}, not a string")
    if "\0" in key:
        raise CFValueError(where, "a dictionary key holds a NUL character")


def _pairs(source: Any, where: str) -> list[tuple[Any, Any]]:
    if isinstance(source, Mapping):
        for key in source:
            check_key(key, where)
        return list(source.items())
    return list(enumerate(source))


def _scalar(value: Any, path: str) -> Any:
    """The typed scalar, or :data:`_CONTAINER` for a dictionary or array."""
    if isinstance(value, bool | str | bytes):
        return value
    if isinstance(value, int):
        return _number(value, path)
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return _CONTAINER
    if isinstance(value, UnreadableValue):
        raise CFValueError(path, value.reason)
    raise CFValueError(path, f"{_kind(value)} is not a property value")


def _number(value: int, path: str) -> OSNumber:
    if value < 0:
        if value >= -(1 << 31):
            return OSNumber(value, 32)
        if value >= -(1 << 63):
            return OSNumber(value, 64)
    elif value < 1 << 64:
        return OSNumber(value, printed_width(value))
    raise CFValueError(path, "a number wider than 64 bits")


def _kind(value: Any) -> str:
    return {dict: "a dictionary", list: "an array", str: "a string", int: "a number",
            bool: "a boolean", bytes: "data"}.get(type(value), type(value).__name__)
