"""A registry snapshot: the whole registry as data, sent to a tool and rebuilt there.

``ioreg`` on a Mac reads the live registry through IOKitLib, one entry at a time. A tool here
asks a running kernel for a snapshot (every entry's id, class chain, names, typed properties,
state and links in every plane, in order) and rebuilds an :class:`IORegistry` of stand-in
entries from it, which the ``ioreg`` renderers print exactly as they print the kernel's own:
every flag works, ids and order are the kernel's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.service import IOService
from iokit_sdk.wirecodec import gc_paused

from iokit_host.registry import IORegistry

__all__ = ["SnapshotError", "rebuild", "take"]

Record = dict[str, Any]


class SnapshotError(ValueError):
    """A snapshot that does not describe a registry (a kernel of another version)."""


def take(registry: IORegistry) -> dict[str, Any]:
    """The snapshot of ``registry``: its planes and one record per entry, in id order."""
    with gc_paused():  # thousands of records: no collection walks the kernel's heap meanwhile
        return {"planes": list(registry.planes), "root": registry.root.get_registry_entry_id(),
                "entries": [_record(entry) for entry in registry.entries()]}


def _record(entry: IORegistryEntry) -> Record:
    # The entry's own fields, read as its accessors read them (they are sealed: no class
    # overrides them): a snapshot reads thousands of entries, and ioreg over a kernel waits
    # for it.
    parents, children = entry._parents or {}, entry._children or {}
    planes = dict.fromkeys([*parents, *children])  # as entry.planes() orders them
    record: Record = {
        "id": entry._entry_id, "chain": list(entry.class_chain),
        "name": entry._name if entry._name is not None else entry.iokit_class_name,
        "location": entry._location, "properties": entry.copy_properties(),
        "parents": {p: [e._entry_id or 0 for e in parents.get(p, ())] for p in planes},
        "children": {p: [e._entry_id or 0 for e in children.get(p, ())] for p in planes},
    }
    if entry._plane_naming:
        naming = {p: [entry.get_name(p), entry.get_location(p)] for p in planes
                  if (entry.get_name(p), entry.get_location(p))
                  != (record["name"], record["location"])}
        if naming:
            record["naming"] = naming
    if isinstance(entry, IOService):  # service_facts' fields, without making its value
        record["state"] = [entry._state, entry._busy, entry._busy_time_ns]
    return record


def rebuild(snapshot: Mapping[str, Any]) -> IORegistry:
    """An :class:`IORegistry` of stand-in entries that prints as the snapshot's registry.

    :raises SnapshotError: the snapshot is not one :func:`take` makes.
    """
    try:
        with gc_paused():
            return _rebuild(snapshot)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise SnapshotError(f"not a registry snapshot: {type(error).__name__}: {error}"
                            ) from error


def _rebuild(snapshot: Mapping[str, Any]) -> IORegistry:
    planes = list(snapshot["planes"])
    registry = IORegistry(planes=planes)
    root_id = snapshot["root"]
    classes: dict[tuple[str, ...], type[IORegistryEntry]] = {}
    by_id: dict[int, IORegistryEntry] = {}
    records = snapshot["entries"]
    for record in records:
        entry = (registry.root if record["id"] == root_id
                 else _entry(record, classes))
        _restore(registry, entry, record)
        by_id[record["id"]] = entry
    for record in records:
        _link(by_id[record["id"]], record, by_id)
    return registry


def _entry(record: Record, classes: dict[tuple[str, ...], type[IORegistryEntry]]
           ) -> IORegistryEntry:
    entry = _class_for(tuple(record["chain"]), classes)(
        name=record["name"], location=record["location"])
    for plane, (name, location) in (record.get("naming") or {}).items():
        if name is not None:
            entry.set_name(name, plane)
        if location is not None:
            entry.set_location(location, plane)
    state = record.get("state")
    if state is not None and isinstance(entry, IOService):
        busy_state, busy, busy_time_ns = state
        entry._state, entry._busy, entry._busy_time_ns = (
            int(busy_state), int(busy), int(busy_time_ns))
    return entry


def _restore(registry: IORegistry, entry: IORegistryEntry, record: Record) -> None:
    # The snapshot's values were checked when the kernel's drivers set them, and ids are the
    # kernel's: both are restored as they are rather than set and assigned anew.
    entry._props = dict(record["properties"])
    entry._entry_id = int(record["id"])
    registry._by_id[entry._entry_id] = entry
    registry._last_id = max(registry._last_id, entry._entry_id)


def _link(entry: IORegistryEntry, record: Record, by_id: Mapping[int, IORegistryEntry]) -> None:
    # Links are restored as ordered lists, as the kernel's registry holds them: attach order
    # decides both ioreg's child order and which parent is the provider.
    parents = {plane: [by_id[i] for i in ids if i in by_id]
               for plane, ids in record["parents"].items() if ids}
    children = {plane: [by_id[i] for i in ids if i in by_id]
                for plane, ids in record["children"].items() if ids}
    entry._parents = parents or None
    entry._children = children or None


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
