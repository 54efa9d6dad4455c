"""A reply that could not be encoded, repaired (the registry's values as ``OSSerialize`` would
refuse them, one at a time).

Every value a driver sets is kept as a copy of built-in property values, but a driver can
still change a container it read back with ``get_property`` (append the list to itself, put an
object in it) or write its entry's table directly. Encoding a registry snapshot with such a
value fails, and without a repair every program's ``ioreg`` would get
``kIOReturnInternalError`` because of one driver. So when a reply does not encode, the kernel
copies it once more with each value that has no wire form (another type, a container nested
past the limit or containing itself) replaced by a note naming its type, reports where, and
sends that. The common reply pays nothing: this runs only after an encoding failed.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from iokit_sdk.values import MAX_VALUE_DEPTH, MAX_VALUE_ITEMS, OSNumber

from iokit_host.server.snapshot import ROW_FIELDS, record_of

__all__ = ["repaired", "where"]

_SCALARS = (type(None), bool, int, float, str, bytes)
#: How deep a repaired reply nests, counted from its top: a registry value in it (a few levels
#: down in a snapshot) stays within the registry's own limit, so the reader takes it.
_DEPTH = MAX_VALUE_DEPTH
#: More than a reply may hold: past it, the rest of a value is replaced (a shared container
#: can stand for an enormous tree).
_ITEMS = 64 * MAX_VALUE_ITEMS


def repaired(fields: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """A copy of ``fields`` whose every value has a wire form, and the paths (key and index
    steps) of the values replaced."""
    top: dict[str, Any] = {}
    replaced: list[tuple[Any, ...]] = []
    stack: list[tuple[Any, Any, tuple[Any, ...]]] = [(fields, top, ())]
    items = 0
    while stack:
        source, copy, path = stack.pop()
        pairs = list(source.items()) if isinstance(source, Mapping) else list(enumerate(source))
        items += len(pairs)
        for key, value in pairs:
            here = (*path, key)
            if isinstance(source, Mapping) and type(key) is not str:
                replaced.append(here)
                continue
            if type(value) in _SCALARS or type(value) is OSNumber:
                kept: Any = value
            elif isinstance(value, int) and not isinstance(value, bool):
                kept = operator.index(value)  # an int subclass: its value, its code unrun
            elif isinstance(value, (list, tuple, Mapping, frozenset, set)) \
                    and len(here) < _DEPTH and items < _ITEMS:
                kept = {} if isinstance(value, Mapping) else []
                stack.append((value, kept, here))
            else:
                kept = f"<{type(value).__name__} cannot travel>"
                replaced.append(here)
            if isinstance(copy, dict):
                copy[key] = kept
            else:
                copy.append(kept)
    return top, replaced


#: Where a row (a part's entry) holds its properties.
_PROPERTIES = ROW_FIELDS.index("properties")


def where(fields: Mapping[str, Any], path: tuple[Any, ...]) -> str:
    """``path`` as a reader of the kernel's log wants it: a snapshot entry by its class and
    name (``HostileDriver 'HostileDriver' property Stats[0]``), else the steps."""
    steps = list(path)
    prefix = ""
    if steps[:2] == ["snapshot", "entries"] and len(steps) > 3 and steps[3] in (
            "properties", _PROPERTIES):  # a record's, or a row's (a part of tool.registry)
        try:
            record = fields["snapshot"]["entries"][steps[2]]
            if isinstance(record, list):
                record = record_of(record)
            prefix = f"{record['chain'][0]} {record['name']!r} property "
            steps = steps[4:]
        except (KeyError, IndexError, TypeError, ValueError):
            prefix = ""
    text = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps).lstrip(".")
    return prefix + text
