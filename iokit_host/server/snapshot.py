"""A registry snapshot: the whole registry as data, sent to a tool and rebuilt there.

``ioreg`` on a Mac reads the live registry through IOKitLib, one entry at a time. A tool here
asks a running kernel for a snapshot (every entry's id, class chain, names, typed properties,
state and links in every plane, in order) and rebuilds an :class:`IORegistry` of stand-in
entries from it, which the ``ioreg`` renderers print exactly as they print the kernel's own:
every flag works, ids and order are the kernel's.

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

A tool rebuilds the parts as they come (:class:`Rebuild`), asking for the next one before it
rebuilds the last (:mod:`.snapshot_pipeline`), so the kernel takes a part while the tool
makes the last one's entries; the first part is taken for a quarter of the budget, so both
begin sooner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.plain import copied_table
from iokit_sdk.service import IOService
from iokit_sdk.values import MAX_VALUE_DEPTH, PropertyShapeError, check_shape
from iokit_sdk.wirecodec import gc_paused

from iokit_host.registry import IORegistry

__all__ = ["PART_BUDGET_S", "RESTARTS", "ROW_FIELDS", "Rebuild", "SnapshotError", "Walk",
           "fetch", "part_of", "rebuild", "record_of", "row_of", "take", "take_part"]

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


def fetch(ask: Callable[..., Mapping[str, Any]]) -> dict[str, Any]:
    """A whole snapshot, asked for in parts with ``ask(**fields)`` (a ``tool.registry``
    request; its reply), each asked for the moment the last came; begun again from the first
    entry when the registry's shape changed meanwhile (``stale``).

    :raises SnapshotError: a reply that is not a part of a snapshot, or a kernel that kept
        answering ``stale`` past the walk it owes a connection whose walks went stale.
    """
    for _ in range(RESTARTS + 2):
        reply = ask()
        whole = part_of(reply, first=True)
        entries: list[Record] = _records(whole["entries"])
        whole["entries"] = entries
        generation = reply.get("generation")
        while reply.get("more"):
            if not entries:
                raise SnapshotError("not a registry snapshot: a part without entries")
            reply = ask(after=entries[-1]["id"], generation=generation)
            if reply.get("stale"):
                break
            entries += _records(part_of(reply, first=False)["entries"])
        else:
            return whole
    raise SnapshotError("the registry kept changing while it was read, and the kernel did "
                        "not send it whole")


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


def _records(rows: list[Row]) -> list[Record]:
    try:
        return [record_of(row) for row in rows]
    except ValueError as error:
        raise _not_a_snapshot(error) from error


def rebuild(snapshot: Mapping[str, Any]) -> IORegistry:
    """An :class:`IORegistry` of stand-in entries that prints as the snapshot's registry.

    :raises SnapshotError: the snapshot is not one :func:`take` makes.
    """
    rebuilding = Rebuild(snapshot)
    try:
        rows = [row_of(record) for record in snapshot["entries"]]
    except (KeyError, TypeError) as error:
        raise _not_a_snapshot(error) from error
    rebuilding.add(rows)
    return rebuilding.finish()


class Rebuild:
    """A registry being rebuilt from a snapshot's parts as they come (:func:`rebuild` of a
    whole one): each part's entries are made when it comes, and linked then when the
    entries they link to are made (a leaf's, most of a registry's); the others at
    :meth:`finish`, when every entry is made. ``first`` is the first part (``planes``,
    ``root``).

    :raises SnapshotError: a part that is not one :func:`take_part` makes.
    """

    __slots__ = ("_by_id", "_classes", "_later", "_root_id", "registry")

    def __init__(self, first: Mapping[str, Any]) -> None:
        try:
            self.registry = IORegistry(planes=list(first["planes"]))
            self._root_id = first["root"]
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise _not_a_snapshot(error) from error
        self._classes: dict[tuple[str, ...], type[IORegistryEntry]] = {}
        self._by_id: dict[int, IORegistryEntry] = {}
        #: Entries linking to entries not made yet, with their rows.
        self._later: list[tuple[IORegistryEntry, Row]] = []

    def add(self, rows: Any) -> None:
        """Make the entries of one part's rows (in the snapshot's order)."""
        try:
            with gc_paused():
                self._add(rows)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
            raise _not_a_snapshot(error) from error

    def finish(self) -> IORegistry:
        """The registry, once every part was added."""
        try:
            with gc_paused():
                for entry, row in self._later:
                    _link(entry, row, self._by_id)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
            raise _not_a_snapshot(error) from error
        self._later = []
        return self.registry

    def _add(self, rows: list[Row]) -> None:
        registry, root_id, classes, by_id = self.registry, self._root_id, self._classes, \
            self._by_id
        made = []
        for row in rows:
            entry = registry.root if row[_ID] == root_id else _entry(row, classes)
            _restore(registry, entry, row)
            by_id[row[_ID]] = entry
            made.append(entry)
        if made:
            registry._last_id = max(registry._last_id, *[e._entry_id or 0 for e in made])
        later = self._later
        for entry, row in zip(made, rows):
            if not _link_made(entry, row, by_id):
                later.append((entry, row))


def _not_a_snapshot(error: Exception) -> SnapshotError:
    return SnapshotError(f"not a registry snapshot: {type(error).__name__}: {error}")


#: Where a row holds each field (:data:`ROW_FIELDS`).
_ID, _CHAIN, _NAME, _LOCATION, _PROPERTIES, _PARENTS, _CHILDREN, _STATE, _NAMING = range(9)


def _entry(row: Row, classes: dict[tuple[str, ...], type[IORegistryEntry]]
           ) -> IORegistryEntry:
    if len(row) != len(ROW_FIELDS):
        raise ValueError(f"an entry is a row of {len(ROW_FIELDS)} fields, not {len(row)}")
    chain = tuple(row[_CHAIN])
    cls = classes.get(chain)
    if cls is None:
        cls = classes[chain] = _class_for(chain, classes)
    # Made without __init__, every field set here (_props and _entry_id by _restore, the
    # links by _link): the fields are the kernel's, read back, and ioreg over a kernel waits
    # for ten thousand of these. (tests/server/test_snapshot.py checks that no field of an
    # entry's is left unset.)
    entry = object.__new__(cls)
    entry._name = _text_of(row[_NAME], "name")
    entry._location = _text_of(row[_LOCATION], "location")
    entry._plane_naming = entry._parents = entry._children = None
    if isinstance(entry, IOService):
        entry._kernel = entry._instance_data = None
        state = row[_STATE]
        if state is None:
            entry._state = entry._busy = entry._busy_time_ns = 0
        else:
            busy_state, busy, busy_time_ns = state
            entry._state, entry._busy, entry._busy_time_ns = (
                int(busy_state), int(busy), int(busy_time_ns))
    naming = row[_NAMING]
    if naming:
        for plane, (name, location) in naming.items():
            if name is not None:
                entry.set_name(name, plane)
            if location is not None:
                entry.set_location(location, plane)
    return entry


def _text_of(value: Any, what: str) -> str | None:
    """A name or location as read from the wire (valid UTF-8, so a ``str`` is text)."""
    if value is None or type(value) is str:
        return value
    raise TypeError(f"an entry's {what} is a string, not {type(value).__name__}")


def _restore(registry: IORegistry, entry: IORegistryEntry, row: Row) -> None:
    # The snapshot's values were checked when the kernel's drivers set them, and ids are the
    # kernel's: both are restored as they are rather than set and assigned anew.
    properties = dict(row[_PROPERTIES])
    for key, value in properties.items():
        if isinstance(value, _NESTING):
            _check_value(value, row, key)
    entry._props = properties
    entry._entry_id = entry_id = int(row[_ID])
    registry._by_id[entry_id] = entry


_NESTING = (dict, list, frozenset, tuple)


def _check_value(value: object, row: Row, key: object) -> None:
    """A value the kernel could not have held (its drivers' values were checked): one nested
    past :data:`MAX_VALUE_DEPTH` would make the renderers, which recurse, die."""
    try:
        check_shape(value, f"property {key!r}")
    except PropertyShapeError as error:
        raise ValueError(f"entry {row[_ID]!r}'s {error}; a registry value nests at "
                         f"most {MAX_VALUE_DEPTH} deep") from None


def _link(entry: IORegistryEntry, row: Row, by_id: Mapping[int, IORegistryEntry]) -> None:
    # Links are restored as ordered lists, as the kernel's registry holds them: attach order
    # decides both ioreg's child order and which parent is the provider.
    parents = {plane: [by_id[i] for i in ids if i in by_id]
               for plane, ids in row[_PARENTS].items() if ids}
    children = {plane: [by_id[i] for i in ids if i in by_id]
                for plane, ids in row[_CHILDREN].items() if ids}
    entry._parents = parents or None
    entry._children = children or None


def _link_made(entry: IORegistryEntry, row: Row,
               by_id: Mapping[int, IORegistryEntry]) -> bool:
    """:func:`_link` when every entry ``row`` links to is made already; else False, and
    nothing linked."""
    try:
        parents = {plane: [by_id[i] for i in ids]
                   for plane, ids in row[_PARENTS].items() if ids}
        children = row[_CHILDREN]
        if children:  # (a leaf's are none: most entries')
            children = {plane: [by_id[i] for i in ids]
                        for plane, ids in children.items() if ids}
    except KeyError:
        return False
    entry._parents = parents or None
    entry._children = children or None
    return True


def _class_for(chain: tuple[str, ...],
               classes: dict[tuple[str, ...], type[IORegistryEntry]]) -> type[IORegistryEntry]:
    """A class whose ``class_chain`` is ``chain`` (most derived first)."""
    if not chain or chain == IORegistryEntry.class_chain:
        return IORegistryEntry
    if chain == IOService.class_chain:
        return IOService
    known = classes.get(chain)
    if known is not None:
        return known
    base = _class_for(chain[1:], classes) if len(chain) > 1 else IORegistryEntry
    name = chain[0]
    cls = type(name if name.isidentifier() else "SnapshotClass", (base,),
               {"__slots__": (), "iokit_class_name": name, "__module__": __name__})
    classes[chain] = cls
    return cls
