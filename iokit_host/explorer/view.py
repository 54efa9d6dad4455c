"""One registry snapshot as the explorer shows it: a tree per plane, entries, search.

IORegistryExplorer reads the registry through IOKitLib and draws each plane as an outline. The
explorer reads a snapshot (:mod:`iokit_host.server.snapshot`, the one ``ioreg --kernel`` reads),
rebuilds it into stand-in entries, and answers from that: the walk, paths and state text are the
same code ``ioreg`` prints with. A view is never changed after it is built; a newer snapshot
makes a newer view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iokit_sdk.entry import IORegistryEntry

from iokit_host.explorer.values import typed_properties
from iokit_host.ioreg.node import inheritance, service_facts, state_text
from iokit_host.registry import IORegistry
from iokit_host.registry.path import format_component, get_path
from iokit_host.server.snapshot_rebuild import rebuild

__all__ = ["MAX_QUERY", "MAX_RESULTS", "RegistryView", "SearchHit"]

#: The longest search the explorer takes (IORegistryExplorer's field is one line).
MAX_QUERY = 256
#: Search results returned at most; the count of all matches is given besides.
MAX_RESULTS = 500
_SEARCH_FIELDS = ("any", "name", "class", "property")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """An entry that matched: ``why`` says which field (``name``, ``class``, a property key)."""

    entry_id: int
    label: str
    class_name: str
    why: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.entry_id, "label": self.label, "class": self.class_name,
                "why": self.why}


class RegistryView:
    """The registry of one snapshot.

    :param records: the snapshot's records by id, kept to tell what the next one changed.
    :raises iokit_host.server.snapshot.SnapshotError: not a snapshot.
    """

    def __init__(self, snapshot: Mapping[str, Any], generation: int = 0) -> None:
        self.registry: IORegistry = rebuild(snapshot)
        self.generation = generation
        self.records: dict[int, Mapping[str, Any]] = {int(r["id"]): r
                                                      for r in snapshot["entries"]}

    @property
    def planes(self) -> tuple[str, ...]:
        return tuple(self.registry.planes)

    def entry(self, entry_id: int) -> IORegistryEntry | None:
        return self.registry.entry_for_id(entry_id)

    # -- trees ---------------------------------------------------------------------------
    def plane_tree(self, plane: str) -> dict[str, Any]:
        """``{"plane", "root", "nodes": {id: [name, location, class, [child ids]]}}``: every
        entry reachable from the root in ``plane``; the browser lays it out."""
        root = self.registry.root
        nodes: dict[int, list[Any]] = {}
        stack = [root]
        while stack:  # explicit stack: a real registry may be thousands deep
            entry = stack.pop()
            entry_id = _id(entry)
            if entry_id in nodes:
                continue
            children = entry.get_child_entries(plane)
            nodes[entry_id] = [entry.get_name(plane), entry.get_location(plane),
                               entry.class_name(), [_id(c) for c in children]]
            stack.extend(reversed(children))
        return {"plane": plane, "root": _id(root), "nodes": nodes}

    # -- one entry -----------------------------------------------------------------------
    def details(self, entry: IORegistryEntry) -> dict[str, Any]:
        """What the inspector shows: name, class chain, id, state, busy time, paths, and the
        typed property table."""
        facts = service_facts(entry)
        paths = {plane: get_path(self.registry, entry, plane) for plane in self.planes
                 if plane in entry.planes()}
        return {
            "id": _id(entry), "name": entry.get_name(), "location": entry.get_location(),
            "class": entry.class_name(), "chain": list(inheritance(entry)),
            "state": None if facts is None else {
                "text": state_text(facts), "registered": facts.registered,
                "matched": facts.matched, "active": facts.active, "busy": facts.busy,
                "busy_time_ms": facts.busy_time_ns / 1e6},
            "paths": {plane: path for plane, path in paths.items() if path is not None},
            "planes": [plane for plane in self.planes if plane in entry.planes()],
            "properties": typed_properties(entry.copy_properties()),
        }

    def service_path(self, entry: IORegistryEntry) -> str | None:
        return get_path(self.registry, entry, "IOService")

    # -- search --------------------------------------------------------------------------
    def search(self, query: str, field: str = "any") -> tuple[list[SearchHit], int]:
        """Entries whose name, class (any in the chain) or property (a key, or a string or
        data value holding the text) contains ``query``, case-insensitively, in id order.

        :returns: at most :data:`MAX_RESULTS` hits, and how many matched in all.
        :raises ValueError: an empty or over-long query, or an unknown field.
        """
        if field not in _SEARCH_FIELDS:
            raise ValueError(f"search field must be one of {', '.join(_SEARCH_FIELDS)}")
        needle = query.strip().casefold()
        if not needle or len(query) > MAX_QUERY:
            raise ValueError(f"a search is 1 to {MAX_QUERY} characters")
        hits: list[SearchHit] = []
        total = 0
        for entry in self.registry.entries():
            why = _why(entry, needle, field)
            if why is None:
                continue
            total += 1
            if len(hits) < MAX_RESULTS:
                hits.append(SearchHit(_id(entry), format_component(entry, "IOService"),
                                      entry.class_name(), why))
        return hits, total


def _why(entry: IORegistryEntry, needle: str, field: str) -> str | None:
    if field in ("any", "name"):
        names = [entry.get_name(), *(format_component(entry, p) for p in entry.planes())]
        if any(needle in name.casefold() for name in names):
            return "name"
    if field in ("any", "class") and any(needle in c.casefold() for c in entry.class_chain):
        return "class"
    if field in ("any", "property"):
        for key, value in entry.copy_properties().items():
            if needle in str(key).casefold() or _holds(value, needle):
                return f"property {key}"
    return None


def _holds(value: Any, needle: str) -> bool:
    """A top-level string value, or data holding the text (``name``, ``compatible``)."""
    if isinstance(value, str):
        return needle in value.casefold()
    if isinstance(value, (bytes, bytearray)):
        return needle in bytes(value).decode("latin-1").casefold()
    return False


def _id(entry: IORegistryEntry) -> int:
    return entry.get_registry_entry_id() or 0
