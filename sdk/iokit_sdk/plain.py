"""A property value as the registry keeps it: a copy made of the built-in types alone.

``setProperty`` retains the ``OSObject`` a kext passes, and libkern's containers cannot be
changed behind the registry's back once set (an ``OSArray`` the kext keeps changing is its own
object, copied by ``OSSerialize`` when read out). Here a driver's value is a Python object it
may keep and change, or a subclass whose methods are its code: :func:`plain_value` copies it
into built-in types in one bounded walk, so a list it appends to afterwards (itself, an
object) does not change the registry, and a subclass's methods (a ``str`` subclass's
``__format__``, an ``int`` subclass's ``__int__``) never run in the code that prints or sends
the registry.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping
from typing import Any

from iokit_sdk.values import (
    _VALUE_CONTAINERS,
    _WIDTHS,
    MAX_VALUE_DEPTH,
    MAX_VALUE_ITEMS,
    SCALAR_TYPES,
    OSNumber,
    PropertyShapeError,
    PropertyTypeError,
    _Crumb,
    _spell,
    _too_deep,
    check_symbol,
    check_text,
)

__all__ = ["PropertyView", "copied", "copied_table", "plain_value"]


def plain_value(value: object, path: str = "value") -> Any:
    """``value`` as a property value made of the built-in types alone: containers copied
    (a ``Mapping`` becomes a ``dict``), subclasses of ``str``, ``bytes`` and ``int`` read as
    the built-in value beneath (an ``OSNumber`` keeps its width). Refuses what
    :func:`check_value` refuses, in the same single bounded walk that copies, so a container
    that answers differently each time it is read cannot slip anything past the check.
    """
    flat = _flat_copy(value)
    if flat is not None:
        return flat
    leaf = _plain_scalar(value)
    if leaf is not None:
        return check_text(leaf, path) if type(leaf) is str else leaf
    if not isinstance(value, _VALUE_CONTAINERS):
        raise PropertyTypeError(path, value)
    # Copies are made top-down as lists and dicts, each filled as its items are met; tuples
    # and frozensets are converted afterwards, innermost first, and put in their parents.
    top = _empty(value)
    made: list[tuple[object, Any, Any, object]] = []  # (original, copy, parent copy, key)
    stack: list[tuple[Any, Any, int, _Crumb | None]] = [(value, top, 0, None)]
    items = 0
    while stack:
        item, copy, depth, crumb = stack.pop()
        if depth >= MAX_VALUE_DEPTH:
            raise _too_deep(path, crumb, item, depth + 1)
        pairs = list(item.items()) if isinstance(item, Mapping) else list(enumerate(item))
        items += len(pairs)
        if items > MAX_VALUE_ITEMS:
            raise PropertyShapeError(_spell(path, crumb), value,
                                     f"holds more than {MAX_VALUE_ITEMS} items", depth)
        is_map = isinstance(item, Mapping)
        for key, child in pairs:
            if is_map:
                if not isinstance(key, str):
                    raise PropertyTypeError(f"{_spell(path, crumb)} key {key!r}", key)
                key = str.__str__(key)
                if not key.isascii() or "\0" in key:
                    check_symbol(key, f"{_spell(path, crumb)} key {key!r}")
            if type(child) in SCALAR_TYPES:
                plain = child
                if type(child) is str and not child.isascii():
                    check_text(child, _spell(path, (crumb, key, item)))
            elif depth + 1 < MAX_VALUE_DEPTH and (plain := _flat_copy(child)) is not None:
                items += len(plain)
                if items > MAX_VALUE_ITEMS:
                    raise PropertyShapeError(_spell(path, (crumb, key, item)), value,
                                             f"holds more than {MAX_VALUE_ITEMS} items", depth)
            elif (plain := _plain_scalar(child)) is None:
                if not isinstance(child, _VALUE_CONTAINERS):
                    raise PropertyTypeError(_spell(path, (crumb, key, item)), child)
                plain = _empty(child)
                made.append((child, plain, copy, key))
                stack.append((child, plain, depth + 1, (crumb, key, item)))
            elif type(plain) is str and not plain.isascii():  # a str subclass's value
                check_text(plain, _spell(path, (crumb, key, item)))
            if is_map:
                copy[key] = plain
            else:
                copy.append(plain)
    for original, copy, parent, key in reversed(made):
        parent[key] = _finished(original, copy)
    return _finished(value, top)


def _flat_copy(value: object) -> Any:
    """The common value, a built-in container of built-in scalars, copied in one loop (a
    tuple or frozenset of them is immutable: kept); None for any other."""
    kind = type(value)
    scalars = SCALAR_TYPES
    if kind is dict:
        if len(value) > MAX_VALUE_ITEMS:  # type: ignore[arg-type]
            return None
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str or not key.isascii() or "\0" in key \
                    or type(item) not in scalars \
                    or type(item) is str and not item.isascii():
                return None  # the walk checks non-ASCII text (a lone surrogate) and says where
        return dict(value)  # type: ignore[call-overload]
    if kind is list or kind is tuple or kind is frozenset:
        if len(value) > MAX_VALUE_ITEMS:  # type: ignore[arg-type]
            return None
        for item in value:  # type: ignore[attr-defined]
            if type(item) not in scalars or type(item) is str and not item.isascii():
                return None
        return list(value) if kind is list else value  # type: ignore[call-overload]
    return None


def _plain_scalar(value: object) -> Any:
    """The built-in scalar under ``value``, or None for a container or another object."""
    kind = type(value)
    if kind in SCALAR_TYPES:
        return value
    if isinstance(value, OSNumber):
        bits = value.__dict__.get("bits")
        return OSNumber(operator.index(value), bits if type(bits) is int and bits in _WIDTHS
                        else 64)
    if isinstance(value, int):  # bool is not subclassable: an int subclass
        return operator.index(value)  # the value, without the subclass's own __index__
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return bytes.__getitem__(value, slice(None))
    return None


def _empty(container: object) -> Any:
    return {} if isinstance(container, Mapping) else []


def _finished(original: object, copy: Any) -> Any:
    if isinstance(original, tuple):
        return tuple(copy)
    if isinstance(original, frozenset):
        return frozenset(copy)
    return copy


# -- handing stored values out ----------------------------------------------------------------
def copied(value: Any) -> Any:
    """A value the registry keeps, as handed to a reader: every list and dictionary in it a
    fresh copy, so changing what was read (``l.append(l)``) never changes the registry, which
    could then hold a cycle no printer ends. Scalars and frozensets (whose members are hashable,
    so hold no list) are shared; another ``Mapping`` (a host's own) is copied by
    :func:`plain_value`. A value is checked when it is set, so this walk is plain. What only
    writing an entry's table behind the checks can make (a list inside itself, one list in
    many places, an object no reader knows) is handed on as it is past
    :data:`~iokit_sdk.values.MAX_VALUE_DEPTH` levels or :data:`~iokit_sdk.values.MAX_VALUE_ITEMS`
    items, or where it stands, for its reader to refuse or repair: the walk is bounded, and
    never fails."""
    kind = type(value)
    if kind in SCALAR_TYPES or kind is frozenset:
        return value
    if kind is dict and SCALAR_TYPES.issuperset(map(type, value.values())):
        return dict(value)  # the common container (an IOPropertyMatch), at C speed
    return _Copy().of(value, 0)


def copied_table(table: Mapping[str, Any]) -> dict[str, Any]:
    """A property table as handed to a reader: a new ``dict``, each container in it
    :func:`copied`; a table of scalars alone (the common one) is copied at C speed."""
    if SCALAR_TYPES.issuperset(map(type, table.values())):
        return dict(table)
    return {key: value if type(value) in SCALAR_TYPES else copied(value)
            for key, value in table.items()}


class _Copy:
    """One walk of :func:`copied`, with the items it may still copy."""

    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_VALUE_ITEMS

    def of(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind in SCALAR_TYPES or kind is frozenset or depth >= MAX_VALUE_DEPTH or (
                self.left <= 0):
            return value
        inner = depth + 1
        if kind is dict:
            self.left -= len(value)
            return {key: item if type(item) in SCALAR_TYPES else self.of(item, inner)
                    for key, item in value.items()}
        if kind is list or kind is tuple:
            self.left -= len(value)
            items = [item if type(item) in SCALAR_TYPES else self.of(item, inner)
                     for item in value]
            return items if kind is list else tuple(items)
        if isinstance(value, Mapping):
            try:
                return plain_value(value)
            except (PropertyTypeError, RecursionError):
                return value
        return value


class PropertyView(Mapping[str, Any]):
    """An entry's property table, read-only, as a driver reads it (``properties``): each
    container comes out as a copy (:func:`copied`), as ``OSSerialize`` copies an ``OSArray``
    read out of the registry; only ``set_property`` changes a value."""

    __slots__ = ("_table",)

    def __init__(self, table: dict[str, Any]) -> None:
        self._table = table

    def __getitem__(self, key: str) -> Any:
        value = self._table[key]
        return value if type(value) in SCALAR_TYPES else copied(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, key: object) -> bool:
        return key in self._table

    def __repr__(self) -> str:
        return f"PropertyView({len(self._table)} properties)"
