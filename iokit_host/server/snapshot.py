"""A registry snapshot: the whole registry as data, sent to a tool and rebuilt there.

``ioreg`` on a Mac reads the live registry through IOKitLib, one entry at a time. A tool here
asks a running kernel for a snapshot (every entry's id, class chain, names, typed properties,
state and links in every plane, in order) and rebuilds an :class:`IORegistry` of stand-in
entries from it (:mod:`.snapshot_rebuild`), which the ``ioreg`` renderers print exactly as
they print the kernel's own: every flag works, ids and order are the kernel's.

A kernel sends a big registry in parts (:func:`take_part`, :func:`fetch`): taking 20,000
entries at once held every other client back a quarter of a second. Each part is the entries
after the last one sent, in the snapshot's order, for :data:`PART_BUDGET_S` of the kernel's
time. The parts fit together while the registry's shape stays the same
(:attr:`IORegistry.generation`, bumped by every entry, link and plane made or removed, as
IOKit's iterators are invalidated): a part asked for under another generation is answered
``stale`` and the tool starts again from the first entry, as an IOKit iterator's user resets
it when ``IOIteratorIsValid`` says false. Properties, names and service states are read as
each part is taken (as ``ioreg`` on a Mac reads each entry's as it reaches it). A connection
whose walks went stale :data:`RESTARTS` times in a row has its next one taken whole, in one
request: a registry that keeps changing costs that client's peers one long request at
worst, and the tool always ends.

A tool fetches the parts (:mod:`.snapshot_pipeline`), asking for the next one before it
rebuilds the last (:class:`~.snapshot_rebuild.Rebuild`), so the kernel takes a part while the
tool makes the last one's entries; the first part is taken for a quarter of the budget, so
both begin sooner.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.plain import copied_table
from iokit_sdk.service import IOService
from iokit_sdk.wirecodec import gc_paused

from iokit_host.registry import IORegistry

__all__ = ["CHAIN", "CHILDREN", "ID", "LOCATION", "NAME", "NAMING", "PARENTS", "PART_BUDGET_S",
           "PROPERTIES", "RESTARTS", "ROW_FIELDS", "STATE", "Record", "Row", "SnapshotError", "Walk",
           "not_a_snapshot", "part_of", "record_of", "row_of", "take", "take_part"]

Record = dict[str, Any]
#: A record as a part carries it: its fields in :data:`ROW_FIELDS`' order.
Row = list[Any]


class SnapshotError(ValueError):
    """A snapshot that does not describe a registry (a kernel of another version)."""


def take(registry: IORegistry) -> dict[str, Any]:
    """The snapshot of ``registry``: its planes and one record per entry, in id order."""
    with gc_paused():  # thousands of records: no collection walks the kernel's heap meanwhile
        return {"planes": list(registry.planes), "root": registry.root.get_registry_entry_id(),
                "entries": [record_of(_row(entry)) for entry in registry.entries()]}


#: The kernel's time one part of a snapshot is taken for (the entries' records; packing them
#: costs about as much again, so a part holds the kernel some 20 ms): 20,000 entries come in
#: some ten parts.
PART_BUDGET_S = 0.01
#: The share of :data:`PART_BUDGET_S` the first part is taken for: a tool decodes and rebuilds
#: each part while the kernel takes the next (:mod:`.snapshot_pipeline`), so the sooner the
#: first comes, the sooner both processes work at once.
FIRST_PART_SHARE = 0.25
#: Walks of one connection that may go stale in a row before its next is taken whole.
RESTARTS = 4
#: Records taken between two looks at the clock.
_CLOCK_EVERY = 32


class Walk:
    """A connection's snapshot being taken in parts: the entries of one generation of the
    registry, in order, and where the next part starts."""

    __slots__ = ("entries", "generation", "position", "restarts")

    def __init__(self, registry: IORegistry, restarts: int) -> None:
        self.generation = registry.generation
        self.entries = list(registry.entries())
        self.position = 0
        #: How many walks of this connection went stale in a row before this one.
        self.restarts = restarts


def take_part(registry: IORegistry, walk: Walk | None, after: int | None,
              generation: int | None, budget_s: float | None = PART_BUDGET_S
              ) -> tuple[dict[str, Any], Walk | None]:
    """The next part of a snapshot, and the connection's walk from then on.

    ``generation`` None begins a snapshot; else the part holds the entries after the one
    whose id is ``after``, provided the registry's generation is still ``generation`` (else
    the reply is ``stale``: the caller begins again). A part is a snapshot whose ``entries``
    are some of the whole's; ``more`` says others follow. ``budget_s`` None takes the rest
    whole; the first part is taken for :data:`FIRST_PART_SHARE` of it.

    :raises ValueError: ``after`` is not an entry of the walk.
    """
    restarts = walk.restarts if walk is not None else 0
    if generation is not None and generation != registry.generation:
        # Counted only when it is this connection's walk that went stale: generations it was
        # never given (or asked again) would earn a client a whole walk at will.
        ours = type(walk) is Walk and walk.generation == generation
        return ({"stale": True, "generation": registry.generation},
                _Stale(restarts + 1 if ours else restarts))
    if generation is None or walk is None or isinstance(walk, _Stale) \
            or walk.generation != registry.generation:
        walk = Walk(registry, restarts)
        if generation is not None:  # a walk of this generation, left by another request
            walk.position = _after(walk.entries, after)
    elif walk.position == 0 or walk.entries[walk.position - 1]._entry_id != after:
        walk.position = _after(walk.entries, after)
    if generation is None and walk.restarts >= RESTARTS:
        budget_s = None  # the registry kept changing under this connection's walks
    entries, start = walk.entries, walk.position
    if start == 0 and budget_s is not None:
        budget_s *= FIRST_PART_SHARE
    rows: list[Row] = []
    end = _taken(entries, start, budget_s, rows)
    part: dict[str, Any] = {"entries": rows}
    if start == 0:
        part = {"planes": list(registry.planes), "root": registry.root.get_registry_entry_id(),
                **part}
    more = end < len(entries)
    walk.position = end
    reply = {"snapshot": part, "generation": walk.generation, "more": more}
    return reply, (walk if more else None)


def _taken(entries: list[IORegistryEntry], start: int, budget_s: float | None,
           rows: list[Row]) -> int:
    """Take the rows of ``entries`` from ``start`` for ``budget_s`` (None: all of them)
    into ``rows``; where the part ends."""
    with gc_paused():
        if budget_s is None:
            rows += [_row(entry) for entry in entries[start:]]
            return len(entries)
        until = time.monotonic() + budget_s
        end = start
        while end < len(entries):
            stop = min(end + _CLOCK_EVERY, len(entries))
            rows += [_row(entry) for entry in entries[end:stop]]
            end = stop
            if time.monotonic() >= until:
                break
        return end


class _Stale(Walk):
    """No walk, after ``restarts`` went stale in a row."""

    __slots__ = ()

    def __init__(self, restarts: int) -> None:
        self.restarts = restarts


def _after(entries: list[IORegistryEntry], after: int | None) -> int:
    """The position following the entry whose id is ``after``."""
    for position, entry in enumerate(entries):
        if entry._entry_id == after:
            return position + 1
    raise ValueError(f"'after' {after!r} is no entry of the registry's generation")


def part_of(reply: Mapping[str, Any], *, first: bool) -> dict[str, Any]:
    """The ``snapshot`` of a ``tool.registry`` reply that is a part (the first: with
    ``planes`` and ``root``).

    :raises SnapshotError: it is not.
    """
    try:
        part = dict(reply["snapshot"])
        if not isinstance(part["entries"], list) or not isinstance(reply.get("more", False), bool) \
                or (first and not {"planes", "root"} <= part.keys()):
            raise ValueError("its parts are not ones this tool reads")
    except (KeyError, TypeError, ValueError) as error:
        raise SnapshotError(f"not a registry snapshot: {type(error).__name__}: {error}"
                            ) from error
    return part


#: A record's fields, in the order a row holds them (a part's entries travel as rows: a
#: map's keys, ten thousand times over, made a third of a snapshot's bytes and of the time a
#: tool took to decode it). ``state`` is None for an entry that is no service, ``naming``
#: None when no plane names it otherwise.
ROW_FIELDS = ("id", "chain", "name", "location", "properties", "parents", "children", "state",
              "naming")
_OPTIONAL = ("state", "naming")


def _row(entry: IORegistryEntry) -> Row:
    # The entry's own fields, read as its accessors read them (they are sealed: no class
    # overrides them): a snapshot reads thousands of entries, and ioreg over a kernel waits
    # for it.
    parents, children = entry._parents or {}, entry._children
    planes: Mapping[str, Any]
    if children:
        planes = dict.fromkeys([*parents, *children])  # as entry.planes() orders them
        parent_ids = {p: [e._entry_id or 0 for e in parents.get(p, ())] for p in planes}
        child_ids = {p: [e._entry_id or 0 for e in children.get(p, ())] for p in planes}
    else:  # a leaf (most entries): its planes are its parents', and it has no child lists
        planes = parents  # (empty ones link nothing: a tool skips them)
        parent_ids = {p: [e._entry_id or 0 for e in es] for p, es in parents.items()}
        child_ids = {}
    name = entry._name if entry._name is not None else entry.iokit_class_name
    naming = None
    if entry._plane_naming:
        naming = {p: [entry.get_name(p), entry.get_location(p)] for p in planes
                  if (entry.get_name(p), entry.get_location(p)) != (name, entry._location)
                  } or None
    state = ([entry._state, entry._busy, entry._busy_time_ns] if isinstance(entry, IOService)
             else None)  # service_facts' fields, without making its value
    return [entry._entry_id, list(entry.class_chain), name, entry._location,
            copied_table(entry._props), parent_ids, child_ids, state, naming]


def record_of(row: Row) -> Record:
    """A row as a record: a map of :data:`ROW_FIELDS` (the optional ones left out when
    None), as the explorer reads and compares them.

    :raises ValueError: it is no row.
    """
    if type(row) is not list or len(row) != len(ROW_FIELDS):
        raise ValueError(f"an entry is a row of {len(ROW_FIELDS)} fields, not "
                         f"{type(row).__name__}")
    return {key: value for key, value in zip(ROW_FIELDS, row)
            if value is not None or key not in _OPTIONAL}


def row_of(record: Record | Row) -> Row:
    """A record as a row (a row as it is)."""
    if isinstance(record, list):
        return record
    return [record[key] if key not in _OPTIONAL else record.get(key) for key in ROW_FIELDS]


def not_a_snapshot(error: Exception) -> SnapshotError:
    return SnapshotError(f"not a registry snapshot: {type(error).__name__}: {error}")


#: Where a row holds each field (:data:`ROW_FIELDS`).
ID, CHAIN, NAME, LOCATION, PROPERTIES, PARENTS, CHILDREN, STATE, NAMING = range(9)
