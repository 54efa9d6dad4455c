"""Rebuilding a registry from a running kernel's snapshot (:mod:`.snapshot`): stand-in entries
of the kernel's classes, ids, names, properties, states and links, which the ``ioreg``
renderers print exactly as they print the kernel's own (IOKitLib's view of the registry, made
whole on the tool's side).

A tool rebuilds the parts as they come (:class:`Rebuild`; :mod:`.snapshot_pipeline` asks for
the next part before it rebuilds the last), or a whole snapshot at once (:func:`rebuild`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.service import IOService
from iokit_sdk.values import MAX_VALUE_DEPTH, PropertyShapeError, check_shape
from iokit_sdk.wirecodec import gc_paused

from iokit_host.registry import IORegistry
from iokit_host.server.snapshot import (
    CHAIN,
    CHILDREN,
    ID,
    LOCATION,
    NAME,
    NAMING,
    PARENTS,
    PROPERTIES,
    ROW_FIELDS,
    STATE,
    Row,
    not_a_snapshot,
    row_of,
)

__all__ = ["Rebuild", "rebuild"]


def rebuild(snapshot: Mapping[str, Any]) -> IORegistry:
    """An :class:`IORegistry` of stand-in entries that prints as the snapshot's registry.

    :raises SnapshotError: the snapshot is not one :func:`take` makes.
    """
    rebuilding = Rebuild(snapshot)
    try:
        rows = [row_of(record) for record in snapshot["entries"]]
    except (KeyError, TypeError) as error:
        raise not_a_snapshot(error) from error
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
            raise not_a_snapshot(error) from error
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
            raise not_a_snapshot(error) from error

    def finish(self) -> IORegistry:
        """The registry, once every part was added."""
        try:
            with gc_paused():
                for entry, row in self._later:
                    _link(entry, row, self._by_id)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
            raise not_a_snapshot(error) from error
        self._later = []
        return self.registry

    def _add(self, rows: list[Row]) -> None:
        registry, root_id, classes, by_id = self.registry, self._root_id, self._classes, \
            self._by_id
        made = []
        for row in rows:
            entry = registry.root if row[ID] == root_id else _entry(row, classes)
            _restore(registry, entry, row)
            by_id[row[ID]] = entry
            made.append(entry)
        if made:
            registry._last_id = max(registry._last_id, *[e._entry_id or 0 for e in made])
        later = self._later
        for entry, row in zip(made, rows):
            if not _link_made(entry, row, by_id):
                later.append((entry, row))


def _entry(row: Row, classes: dict[tuple[str, ...], type[IORegistryEntry]]
           ) -> IORegistryEntry:
    if len(row) != len(ROW_FIELDS):
        raise ValueError(f"an entry is a row of {len(ROW_FIELDS)} fields, not {len(row)}")
    chain = tuple(row[CHAIN])
    cls = classes.get(chain)
    if cls is None:
        cls = classes[chain] = _class_for(chain, classes)
    # Made without __init__, every field set here (_props and _entry_id by _restore, the
    # links by _link): the fields are the kernel's, read back, and ioreg over a kernel waits
    # for ten thousand of these. (tests/server/test_snapshot.py checks that no field of an
    # entry's is left unset.)
    entry = object.__new__(cls)
    entry._name = _text_of(row[NAME], "name")
    entry._location = _text_of(row[LOCATION], "location")
    entry._plane_naming = entry._parents = entry._children = None
    if isinstance(entry, IOService):
        entry._kernel = entry._instance_data = None
        state = row[STATE]
        if state is None:
            entry._state = entry._busy = entry._busy_time_ns = 0
        else:
            busy_state, busy, busy_time_ns = state
            entry._state, entry._busy, entry._busy_time_ns = (
                int(busy_state), int(busy), int(busy_time_ns))
    naming = row[NAMING]
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
    properties = dict(row[PROPERTIES])
    for key, value in properties.items():
        if isinstance(value, _NESTING):
            _check_value(value, row, key)
    entry._props = properties
    entry._entry_id = entry_id = int(row[ID])
    registry._by_id[entry_id] = entry


_NESTING = (dict, list, frozenset, tuple)


def _check_value(value: object, row: Row, key: object) -> None:
    """A value the kernel could not have held (its drivers' values were checked): one nested
    past :data:`MAX_VALUE_DEPTH` would make the renderers, which recurse, die."""
    try:
        check_shape(value, f"property {key!r}")
    except PropertyShapeError as error:
        raise ValueError(f"entry {row[ID]!r}'s {error}; a registry value nests at "
                         f"most {MAX_VALUE_DEPTH} deep") from None


def _link(entry: IORegistryEntry, row: Row, by_id: Mapping[int, IORegistryEntry]) -> None:
    # Links are restored as ordered lists, as the kernel's registry holds them: attach order
    # decides both ioreg's child order and which parent is the provider.
    parents = {plane: [by_id[i] for i in ids if i in by_id]
               for plane, ids in row[PARENTS].items() if ids}
    children = {plane: [by_id[i] for i in ids if i in by_id]
                for plane, ids in row[CHILDREN].items() if ids}
    entry._parents = parents or None
    entry._children = children or None


def _link_made(entry: IORegistryEntry, row: Row,
               by_id: Mapping[int, IORegistryEntry]) -> bool:
    """:func:`_link` when every entry ``row`` links to is made already; else False, and
    nothing linked."""
    try:
        parents = {plane: [by_id[i] for i in ids]
                   for plane, ids in row[PARENTS].items() if ids}
        children = row[CHILDREN]
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
