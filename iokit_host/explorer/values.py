"""Property values as typed data for the browser: what IORegistryExplorer's property table shows.

IORegistryExplorer shows each property with its type (Number, Data, String, Boolean, Array,
Dictionary) and value: numbers with their width, data as hex. A value becomes a small JSON
record, ``{"t": type, ...}``; numbers travel as decimal and hex *strings* because a 64-bit
value does not fit a JavaScript number. The browser renders every record as text, never as
HTML. Values come from machines a user has (real dumps, archives), so nesting and size are
bounded here: past :data:`MAX_DEPTH` levels or :data:`MAX_ITEMS` items a record says what was
left out instead of recursing on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iokit_sdk.values import OSNumber

__all__ = ["MAX_DATA_BYTES", "MAX_DEPTH", "MAX_ITEMS", "MAX_TEXT", "typed", "typed_properties"]

#: Nesting past this is shown as elided (real registries nest a handful of levels).
MAX_DEPTH = 32
#: Items rendered for one entry's properties, all levels together.
MAX_ITEMS = 20_000
#: Bytes of one data value shown in hex; the length is always given in full.
MAX_DATA_BYTES = 4096
#: Characters of one string (a value, a key) shown; the length is given when it is longer. A
#: string of megabytes (a hostile driver's or dump's) was sent whole at every selection.
MAX_TEXT = 8192

Typed = dict[str, Any]


class _Budget:
    def __init__(self, items: int) -> None:
        self.left = items


def typed(value: Any, depth: int = 0, budget: _Budget | None = None) -> Typed:
    """``value`` as a typed record (see the module docstring)."""
    budget = budget if budget is not None else _Budget(MAX_ITEMS)
    budget.left -= 1
    if isinstance(value, bool):
        return {"t": "boolean", "v": value}
    if isinstance(value, int):
        bits = value.bits if isinstance(value, OSNumber) else 64
        return {"t": "number", "bits": bits, "dec": str(int(value)),
                "hex": f"0x{int(value) & ((1 << bits) - 1):x}"}
    if isinstance(value, str):
        if len(value) <= MAX_TEXT:
            return {"t": "string", "v": value}
        return {"t": "string", "v": value[:MAX_TEXT], "len": len(value), "truncated": True}
    if isinstance(value, (bytes, bytearray)):
        shown = bytes(value[:MAX_DATA_BYTES])
        record: Typed = {"t": "data", "len": len(value), "hex": shown.hex()}
        if len(value) > len(shown):
            record["truncated"] = True
        return record
    if isinstance(value, (list, tuple, frozenset, set, Mapping)):
        return _container(value, depth, budget)
    return {"t": "unknown", "v": type(value).__name__}


def _container(value: Any, depth: int, budget: _Budget) -> Typed:
    kind = ("dictionary" if isinstance(value, Mapping)
            else "set" if isinstance(value, (frozenset, set)) else "array")
    if depth >= MAX_DEPTH or budget.left <= 0:
        why = (f"nested deeper than {MAX_DEPTH} levels" if depth >= MAX_DEPTH
               else f"more than {MAX_ITEMS} values in this entry")
        return {"t": kind, "count": len(value), "elided": why}
    if isinstance(value, Mapping):
        entries = []
        for key, item in value.items():
            if budget.left <= 0:
                break
            entries.append([_key(key), typed(item, depth + 1, budget)])
        return _counted({"t": kind, "count": len(value), "entries": entries}, len(entries))
    members = sorted(value, key=repr) if kind == "set" else list(value)
    items = []
    for item in members:
        if budget.left <= 0:
            break
        items.append(typed(item, depth + 1, budget))
    return _counted({"t": kind, "count": len(value), "items": items}, len(items))


def _counted(record: Typed, shown: int) -> Typed:
    if shown < record["count"]:
        record["elided"] = f"{record['count'] - shown} more values not shown"
    return record


def typed_properties(properties: Mapping[str, Any]) -> list[list[Any]]:
    """An entry's properties as ``[key, typed]`` rows, sorted by key as IORegistryExplorer
    lists them."""
    budget = _Budget(MAX_ITEMS)
    rows: list[list[Any]] = []
    for key in sorted(properties, key=str):
        if budget.left <= 0:
            rows.append([_key(key), {"t": "unknown", "v": "not shown",
                                    "elided": f"more than {MAX_ITEMS} values in this entry"}])
            break
        rows.append([_key(key), typed(properties[key], 1, budget)])
    return rows


def _key(key: Any) -> str:
    text = str(key)
    return text if len(text) <= MAX_TEXT else f"{text[:MAX_TEXT]}… ({len(text)} characters)"
