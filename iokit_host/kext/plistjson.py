"""Plist values as JSON, without ambiguity (the kernel collection's prelinked info dictionaries).

A kernel collection stores every kext's info dictionary as it was read, so a warm boot sees
exactly the values a cold boot parsed. JSON has strings, numbers, booleans, arrays and objects;
a plist also has ``<data>``, ``<date>`` and (as libkern's OSNumber) numbers with a bit width.
Those become one-key objects whose key is a tag: ``{"$data": base64}``, ``{"$date": iso}``,
``{"$number": [value, bits]}`` (and a binary plist's ``{"$uid": n}``). A dictionary of the manifest's own that happens to be a one-key
object with a tag for its key (``{"$data": "AAAA"}`` written as a ``<dict>``) is escaped as
``{"$dict": {...}}``, whose content is never read as a tag, so decoding is the exact inverse
of encoding: types included (``true`` is not ``1``, an OSNumber keeps its width).

Both directions walk with an explicit stack and refuse values deeper than :data:`MAX_DEPTH`,
so a hostile or damaged file cannot exhaust the interpreter's stack. :func:`decode` checks
types as it goes (``null`` and malformed tags are refused): it is the schema of a value.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import plistlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from iokit_sdk.values import MAX_VALUE_DEPTH, OSNumber

__all__ = ["MAX_DEPTH", "TAGS", "ValueShapeError", "decode", "encode"]

#: Twice the nesting a manifest may have (``MAX_VALUE_DEPTH``, checked where it is read), and
#: far from the JSON module's own recursion limit: what is encoded can be read back.
MAX_DEPTH = 2 * MAX_VALUE_DEPTH
_DATA, _DATE, _NUMBER, _UID, _DICT = "$data", "$date", "$number", "$uid", "$dict"
TAGS = frozenset({_DATA, _DATE, _NUMBER, _UID, _DICT})
_WIDTHS = (8, 16, 32, 64)
_JSON_SCALARS = frozenset({str, int, float, bool})
#: Without float: what :func:`decode` takes with ``reals=False`` (a manifest's ``<real>`` is
#: dropped where it is read, the kernel having no type for it, so one stored is damage).
_NO_REALS = frozenset({str, int, bool})
#: What a plist ``<integer>`` can hold (CoreFoundation: 64-bit signed or unsigned).
_INT_MIN, _INT_END = -(1 << 63), 1 << 64
_STRINGS = frozenset({str})


class ValueShapeError(ValueError):
    """A value that is not a plist value (encoding) or not one written by :func:`encode`."""


def encode(value: Any) -> Any:
    """``value`` (a plist value, possibly holding bytes, dates or OSNumbers) as JSON-ready data.

    Containers holding only JSON scalars are used as they are (checked with one C-level pass
    over their types): the walk costs per container, not per value.

    :raises ValueShapeError: for a type a plist cannot hold, a non-string key, or nesting
        deeper than :data:`MAX_DEPTH`.
    """
    if type(value) is dict or type(value) is MappingProxyType:
        flat = _flat_tables(value)
        if flat is not None:
            return flat
    root = [value]
    stack: list[tuple[Any, int]] = [(root, -1)]  # our own containers, to convert in place
    while stack:
        container, depth = stack.pop()
        for slot, child in _slots(container):
            if type(child) not in _JSON_SCALARS:
                container[slot] = _encoded(child, depth + 1, stack)
    return root[0]


def _flat_tables(table: Mapping[Any, Any]) -> Any:
    """What :func:`encode` gives for a dictionary of JSON scalars and of dictionaries of
    JSON scalars (a kext's personalities, most info dictionaries), in one pass; None for
    anything else, which the general walk encodes (or refuses)."""
    if not _STRINGS.issuperset(map(type, table)):
        return None
    out: dict[str, Any] = {}
    for key, value in table.items():
        if type(value) in _JSON_SCALARS:
            out[key] = value
        elif (type(value) is dict and _STRINGS.issuperset(map(type, value))
              and _JSON_SCALARS.issuperset(map(type, value.values()))):
            out[key] = _escaped(value)
        else:
            return None
    return _escaped(out)


def _escaped(table: dict[str, Any]) -> Any:
    """``table``, or ``{"$dict": table}`` when it would read as a tag."""
    return {_DICT: table} if len(table) == 1 and next(iter(table)) in TAGS else table


def _encoded(item: Any, depth: int, stack: list[tuple[Any, int]]) -> Any:
    kind = type(item)
    if kind is list or kind is tuple:
        _check_depth(depth)
        plain = _JSON_SCALARS.issuperset(map(type, item))
        items = item if plain and kind is list else list(item)
        if not plain:
            stack.append((items, depth))
        return items
    if kind is dict or kind is MappingProxyType or isinstance(item, Mapping):
        _check_depth(depth)
        if not _STRINGS.issuperset(map(type, item)) and not all(
                isinstance(key, str) for key in item):
            raise ValueShapeError(f"a dictionary key at depth {depth} is not a string")
        plain = _JSON_SCALARS.issuperset(map(type, item.values()))
        out = item if plain and kind is dict else dict(item)
        if not plain:
            stack.append((out, depth))
        return {_DICT: out} if len(out) == 1 and next(iter(out)) in TAGS else out
    return _tag(item)


def _slots(container: Any, scalars: frozenset[type] = _JSON_SCALARS) -> Any:
    """(slot, child) pairs of a container with something to convert, else nothing."""
    if type(container) is dict:
        values = container.values()
        return () if scalars.issuperset(map(type, values)) else container.items()
    return () if scalars.issuperset(map(type, container)) else enumerate(container)


def _tag(item: Any) -> Any:
    if isinstance(item, OSNumber):
        return {_NUMBER: [int(item), item.bits]}
    if isinstance(item, bool | int | float | str):  # subclasses (an IntEnum, a StrEnum)
        return item
    if isinstance(item, bytes | bytearray):
        return {_DATA: base64.b64encode(item).decode("ascii")}
    if isinstance(item, dt.datetime):
        return {_DATE: item.isoformat()}
    if isinstance(item, plistlib.UID):
        return {_UID: item.data}
    raise ValueShapeError(f"a {type(item).__name__} is not a plist value")


def _check_depth(depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise ValueShapeError(f"nested deeper than {MAX_DEPTH} levels")


def decode(value: Any, *, reals: bool = True) -> Any:
    """The inverse of :func:`encode`, on data fresh from ``json.loads`` (changed in place).

    :param reals: False refuses a JSON number with a fraction or exponent (a ``<real>``).
    :raises ValueShapeError: for ``null``, a malformed tag, an integer past 64 bits, or
        nesting deeper than :data:`MAX_DEPTH`; the message says what and at which depth.
    """
    scalars = _JSON_SCALARS if reals else _NO_REALS
    root = [value]
    stack: list[tuple[Any, int]] = [(root, -1)]
    while stack:
        container, depth = stack.pop()
        _check_integers(container, depth + 1)
        for slot, child in _slots(container, scalars):
            kind = type(child)
            if kind in scalars:
                continue
            if kind is dict and len(child) == 1 and (tag := next(iter(child))) in TAGS:
                container[slot] = child = _untag(tag, child[tag], depth + 1)
                if tag != _DICT:
                    continue
            elif kind is not dict and kind is not list:
                raise ValueShapeError(f"{_json_kind(child)} at depth {depth + 1} "
                                      "is not a plist value")
            _check_depth(depth + 1)
            stack.append((child, depth + 1))
    return root[0]


def _check_integers(container: Any, depth: int) -> None:
    """Refuse an integer no plist can hold (JSON's have no range): one C-level pass."""
    values = container.values() if type(container) is dict else container
    if any(type(v) is int and not _INT_MIN <= v < _INT_END for v in values):
        raise ValueShapeError(f"an integer at depth {depth} is beyond 64 bits")


def _untag(tag: str, payload: Any, depth: int) -> Any:
    where = f"{tag} at depth {depth}"
    if tag == _DICT:
        if type(payload) is not dict:
            raise ValueShapeError(f"{where} holds {_json_kind(payload)}, not an object")
        return payload
    if tag == _NUMBER:
        return _number(payload, where)
    if tag == _UID:
        if type(payload) is not int or not 0 <= payload < 1 << 64:
            raise ValueShapeError(f"{where} is not an integer in 0..2**64-1")
        return plistlib.UID(payload)
    if type(payload) is not str:
        raise ValueShapeError(f"{where} holds {_json_kind(payload)}, not a string")
    try:
        if tag == _DATA:
            return base64.b64decode(payload.encode("ascii"), validate=True)
        return dt.datetime.fromisoformat(payload)
    except (binascii.Error, UnicodeEncodeError, ValueError) as error:
        raise ValueShapeError(f"{where}: {error}") from None


def _number(payload: Any, where: str) -> OSNumber:
    if (type(payload) is not list or len(payload) != 2
            or any(type(part) is not int for part in payload) or payload[1] not in _WIDTHS
            or not 0 <= payload[0] < 1 << payload[1]):
        raise ValueShapeError(f"{where} is not [value, bits] with bits in {_WIDTHS}")
    return OSNumber(payload[0], payload[1])


def _json_kind(value: Any) -> str:
    names = {type(None): "null", str: "a string", int: "an integer", float: "a number",
             bool: "a boolean", list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)
