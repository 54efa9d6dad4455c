"""The registry entries an IORegistryExplorer archive holds (its ``RexRegistryEntry`` objects).

Each entry records what IOKitLib reported for one ``io_registry_entry_t`` when the archive was
saved: ``name`` and ``location`` (``IORegistryEntryGetName``/``GetLocationInPlane``),
``namesInPlanes``/``locationsInPlanes`` (per plane), ``parentsInPlanes``/``childrenInPlanes``
(the links, per plane, in order), ``inheritance`` (the class chain ``IOObjectCopySuperclass``
walks, most derived first), ``bundleID`` (``IOObjectCopyBundleIdentifierForClass``),
``isRegistered``/``isMatched``/``isActive`` and ``busyCount`` (``IOServiceGetBusyState``), and
``properties`` (``IORegistryEntryCreateCFProperties`` as an XML property list).

:func:`read_entries` finds every entry (the data store's ``registryEntries``, or, when that
list cannot be read, every object archived as an entry; and anything a link reaches) on an
explicit stack, and reads each on its own: a field that cannot be read is left at its
default, an entry without a class chain or name is dropped, a link to an object that is no
entry is dropped; each is reported once per kind (:mod:`.damage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from iokit_sdk.keys import SERVICE_PLANE

from iokit_host.explorer_archive.damage import (
    BAD_ENTRY,
    BAD_FIELD,
    BAD_LINK,
    BAD_PROPERTIES,
    LINKS_TOO_LARGE,
    TOO_LARGE,
    ArchiveDamage,
)
from iokit_host.explorer_archive.keyed import ArchiveFault, KeyedArchive, TooMany
from iokit_host.explorer_archive.properties import PropertyTables
from iokit_host.machine.bootable import MAX_BUSY
from iokit_host.machine.model import EntryRecord

__all__ = ["MAX_ENTRIES", "MAX_LINKS", "MAX_PLANES", "ArchiveEntry", "read_entries"]

#: Far above any registry (real archives hold under a thousand entries).
MAX_ENTRIES = 50_000
#: Most planes an entry's tables by plane (names, locations, parents, children) hold: a
#: registry has about ten (IOService, IODeviceTree, IOPower, IOACPIPlane, IOUSB, ...).
MAX_PLANES = 64
#: Most links (parents and children, in every plane) one archive's entries hold in all: real
#: ones hold about 1.3 parents per entry, ~2,000 in all. A binary archive stores an array
#: once however many entries name it, so a file of a few kilobytes could otherwise give each
#: of thousands of entries thousands of links (a million from 100 KB, each followed while
#: the planes are built).
MAX_LINKS = 1 << 18
_ENTRY_CLASS = "RexRegistryEntry"


#: The class chains read, by the index of their array: (True, the chain), or (False, (where
#: in it after ``.inheritance``, why it cannot be read)).
_Chains = dict[int, tuple[bool, tuple[str, ...]]]


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """One registry entry as the archive recorded it.

    :param index: its object's index in ``$objects``, which links use.
    :param inheritance: its class chain, most derived first (``OSObject`` left out).
    :param parents: per plane, the indexes of its parents there, provider first.
    :param children: per plane, the indexes of its children there, in order.
    """

    index: int
    name: str
    inheritance: tuple[str, ...]
    location: str | None = None
    names: Mapping[str, str] = field(default_factory=dict)
    locations: Mapping[str, str] = field(default_factory=dict)
    parents: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    children: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    record: EntryRecord = field(default_factory=EntryRecord)
    is_root: bool = False

    @property
    def class_name(self) -> str:
        return self.inheritance[0]


def read_entries(archive: KeyedArchive, damage: ArchiveDamage) -> dict[int, ArchiveEntry]:
    """Every readable entry of the archive by object index (see the module doc)."""
    pending = _listed(archive, damage)
    pending.reverse()
    seen = set(pending)
    entries: dict[int, ArchiveEntry] = {}
    tables = PropertyTables(damage)
    links_left = [MAX_LINKS]  # shared by every entry's _Fields
    chains: _Chains = {}
    while pending:
        index = pending.pop()
        if len(entries) >= MAX_ENTRIES:
            damage.note(TOO_LARGE, f"$objects[{index}]", f"more than {MAX_ENTRIES} entries")
            break
        entry = _read_entry(archive, index, damage, tables, links_left, chains)
        if entry is None:
            continue
        entries[index] = entry
        for links in (entry.children, entry.parents):
            for linked in links.values():
                fresh = [i for i in linked if i not in seen]
                seen.update(fresh)
                pending.extend(reversed(fresh))
    return _without_dangling(entries, damage)


def _listed(archive: KeyedArchive, damage: ArchiveDamage) -> list[int]:
    """The data store's ``registryEntries``, as indexes."""
    try:
        store = archive.record(archive.index(archive.top.get("root"), "$top.root"))
        refs = archive.array(store.get("registryEntries"), "$top.root.registryEntries")
    except ArchiveFault as fault:
        damage.note(BAD_ENTRY, fault.where, f"{fault.reason}; the entries were found by their "
                    "class instead")
        return _by_class(archive)
    found: list[int] = []
    for number, ref in enumerate(refs):
        try:
            found.append(archive.index(ref, f"$top.root.registryEntries[{number}]"))
        except ArchiveFault as fault:
            damage.note(BAD_LINK, fault.where, fault.reason)
    return list(dict.fromkeys(found))


def _by_class(archive: KeyedArchive) -> list[int]:
    """Every object archived as a ``RexRegistryEntry``, in order: what the data store's list
    refers to, found without it when it cannot be read."""
    found: list[int] = []
    for index, item in enumerate(archive.objects):
        if isinstance(item, Mapping) and "$class" in item:
            try:
                if archive.class_name(item, f"$objects[{index}]") == _ENTRY_CLASS:
                    found.append(index)
            except ArchiveFault:  # its class cannot be told: not taken for an entry
                continue
    return found


def _read_entry(archive: KeyedArchive, index: int, damage: ArchiveDamage,
                tables: PropertyTables, links_left: list[int], chains: _Chains
                ) -> ArchiveEntry | None:
    where = f"$objects[{index}]"
    try:
        record = archive.record(index)
        if archive.class_name(record, where) not in (_ENTRY_CLASS, None):
            raise ArchiveFault(where, "not a registry entry "
                               f"({archive.class_name(record, where)})")
        inheritance = _inheritance(archive, record, where, chains)
    except ArchiveFault as fault:
        damage.note(BAD_ENTRY, fault.where, fault.reason)
        return None
    fields = _Fields(archive, record, where, damage, links_left)
    names = fields.strings_in_planes("namesInPlanes")
    # A damaged name costs the entry only its name (and not its children with it): the one
    # it has in a plane stands in, else its class's, as IORegistryEntry::getName gives it.
    name = (fields.io_name("name") or names.get(SERVICE_PLANE)
            or next(iter(names.values()), None) or inheritance[0])
    return ArchiveEntry(
        index=index, name=name, inheritance=inheritance,
        location=fields.io_name("location"),
        names=names,
        locations=fields.strings_in_planes("locationsInPlanes"),
        parents=fields.links("parentsInPlanes"), children=fields.links("childrenInPlanes"),
        properties=_properties(archive, record, where, tables),
        record=fields.entry_record(),
        is_root=fields.flag("isRegistryRoot", False))


def _inheritance(archive: KeyedArchive, record: Mapping[str, Any], where: str,
                 chains: _Chains) -> tuple[str, ...]:
    """The entry's class chain, each array read once: a binary archive stores an array once
    however many entries name it (real ones share none; a hostile one of thousands of names,
    named by thousands of entries, was read once an entry, quadratic). The consumers of
    chains (:func:`~.build._classes`) take a chain object once, however many entries hold it."""
    key = f"{where}.inheritance"
    ref = record.get("inheritance")
    try:
        shared = archive.index(ref, key)
    except ArchiveFault:
        return _read_chain(archive, ref, key)  # says why, as it says it for any array
    if shared not in chains:
        try:
            chains[shared] = True, _read_chain(archive, ref, key)
        except ArchiveFault as fault:
            chains[shared] = False, (fault.where.removeprefix(key), fault.reason)
    ok, chain = chains[shared]
    if not ok:
        raise ArchiveFault(key + chain[0], chain[1])
    return chain


def _read_chain(archive: KeyedArchive, ref: Any, key: str) -> tuple[str, ...]:
    chain: list[str] = []
    for number, item in enumerate(archive.array(ref, key)):
        name = _io_name(archive.string(item, f"{key}[{number}]"), f"{key}[{number}]")
        if not name:  # (IOObjectGetClass gives a class's name as an io_name_t too)
            raise ArchiveFault(f"{key}[{number}]", "a class chain holds an empty name")
        if name != "OSObject":
            chain.append(name)
    if not chain:
        raise ArchiveFault(key, "the entry records no class")
    if len(set(chain)) != len(chain):
        shown = ":".join(chain) if len(chain) <= 32 else f"of {len(chain)} classes"
        raise ArchiveFault(key, f"the class chain {shown} names a class twice")
    return tuple(chain)


#: The longest name or location IOKitLib gives: an ``io_name_t`` (``char[128]``) holds it,
#: with its NUL (``IORegistryEntryGetNameInPlane``, ``GetLocationInPlane``).
MAX_NAME_BYTES = 127


def _io_name(text: str | None, where: str) -> str | None:
    """``text``, a name or location IOKitLib gave, unless it is longer than any it gives (a
    string a thousand entries share, of a megabyte, made the machine's tree a gigabyte) or
    holds a NUL: an edited or damaged one."""
    if text is not None and len(text) > MAX_NAME_BYTES // 4 and (
            len(text.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES):
        raise ArchiveFault(where, f"a name of {len(text)} characters, longer than the "
                           f"{MAX_NAME_BYTES} bytes IOKit's names hold (io_name_t)")
    if text is not None and "\0" in text:  # an io_name_t ends at its first NUL
        raise ArchiveFault(where, "a name holding a NUL character, which no io_name_t holds")
    return text


class _Fields:
    """Reading an entry's optional fields, each on its own: damage leaves a default."""

    def __init__(self, archive: KeyedArchive, record: Mapping[str, Any], where: str,
                 damage: ArchiveDamage, links_left: list[int]) -> None:
        self.archive, self.record, self.where, self.damage = archive, record, where, damage
        self.links_left = links_left  # the archive's links still to be read (MAX_LINKS)

    def fault(self, fault: ArchiveFault, kind: Any = BAD_FIELD) -> None:
        self.damage.note(kind, fault.where, fault.reason)

    def optional_string(self, key: str) -> str | None:
        try:
            return self.archive.string(self.record.get(key), f"{self.where}.{key}")
        except ArchiveFault as fault:
            self.fault(fault)
            return None

    def flag(self, key: str, default: bool) -> bool:
        try:
            value = self.archive.scalar(self.record, key, bool, self.where)
        except ArchiveFault as fault:
            self.fault(fault)
            return default
        return default if value is None else bool(value)

    def entry_record(self) -> EntryRecord:
        try:  # IOServiceGetBusyState counts in 32 bits: a larger count (edited) is held
            busy = self.archive.scalar(self.record, "busyCount", int, self.where) or 0
        except ArchiveFault as fault:
            self.fault(fault)
            busy = 0
        return EntryRecord(
            registered=self.flag("isRegistered", True), matched=self.flag("isMatched", True),
            active=self.flag("isActive", True), busy=max(0, min(busy, MAX_BUSY)),
            bundle_id=self.optional_string("bundleID"))

    def in_planes(self, key: str, kind: Any) -> dict[str, Any]:
        """The entry's table ``key`` by plane, values left as references: its first
        :data:`MAX_PLANES` planes (a binary archive stores a table once, and thousands of
        entries naming one of thousands of planes cost millions of reads)."""
        where = f"{self.where}.{key}"
        try:
            return self.archive.strings_by_key(self.record.get(key), where, MAX_PLANES)
        except TooMany as past:
            self.damage.note(kind, where, f"{past.count} planes, more than the {MAX_PLANES} "
                             "any registry has; the first kept")
            found: dict[str, Any] = past.kept
            return found

    def strings_in_planes(self, key: str) -> dict[str, str]:
        where = f"{self.where}.{key}"
        try:
            refs = self.in_planes(key, BAD_FIELD)
        except ArchiveFault as fault:
            self.fault(fault)
            return {}
        found: dict[str, str] = {}
        for plane, ref in refs.items():
            if not plane:  # a plane IORegistryEntry::makePlane could not have made
                self.fault(ArchiveFault(f"{where}.<empty>", "a plane with no name"))
                continue
            try:
                text = _io_name(self.archive.string(ref, f"{where}.{plane}"), f"{where}.{plane}")
            except ArchiveFault as fault:
                self.fault(fault)
                continue
            if text is not None:
                found[plane] = text
        return found

    def io_name(self, key: str) -> str | None:
        """A name or location (:func:`_io_name`); None when absent or damaged."""
        try:
            return _io_name(self.archive.string(self.record.get(key), f"{self.where}.{key}"),
                            f"{self.where}.{key}")
        except ArchiveFault as fault:
            self.fault(fault)
            return None

    def links(self, key: str) -> dict[str, tuple[int, ...]]:
        where = f"{self.where}.{key}"
        try:
            refs = self.in_planes(key, BAD_LINK)
        except ArchiveFault as fault:
            self.fault(fault, BAD_LINK)
            return {}
        found: dict[str, tuple[int, ...]] = {}
        for plane, ref in refs.items():
            if not plane:  # a plane IORegistryEntry::makePlane could not have made
                self.fault(ArchiveFault(f"{where}.<empty>", "links in a plane with no name"),
                           BAD_LINK)
                continue
            try:
                items = self.archive.array(ref, f"{where}.{plane}")
            except ArchiveFault as fault:
                self.fault(fault, BAD_LINK)
                continue
            if len(items) > self.links_left[0]:
                self.damage.note(LINKS_TOO_LARGE, f"{where}.{plane}", f"{len(items)} links, "
                                 f"{len(items) - self.links_left[0]} past the archive's "
                                 f"first {MAX_LINKS}")
                items = items[:self.links_left[0]]
            self.links_left[0] -= len(items)
            indexes: list[int] = []
            for number, item in enumerate(items):
                try:
                    indexes.append(self.archive.index(item, f"{where}.{plane}[{number}]"))
                except ArchiveFault as fault:
                    self.fault(fault, BAD_LINK)
            found[plane] = tuple(dict.fromkeys(indexes))
        return found


def _properties(archive: KeyedArchive, record: Mapping[str, Any], where: str,
                tables: PropertyTables) -> dict[str, Any]:
    """The entry's properties, typed; a value that cannot be read is dropped alone."""
    key = f"{where}.properties"
    try:
        blob = archive.get(record.get("properties"), key)
    except ArchiveFault as fault:
        tables.damage.note(BAD_PROPERTIES, fault.where, fault.reason)
        return {}
    if blob is None or blob == "$null":
        return {}
    if isinstance(blob, Mapping) and isinstance(blob.get("NS.data"), bytes):
        blob = blob["NS.data"]  # an NSMutableData
    if not isinstance(blob, bytes):
        tables.damage.note(BAD_PROPERTIES, key, "expected a property list's data")
        return {}
    return tables.table(blob, key)


def _without_dangling(entries: dict[int, ArchiveEntry], damage: ArchiveDamage
                      ) -> dict[int, ArchiveEntry]:
    """Entries whose links name only entries that were read; the rest dropped and noted."""
    kept: dict[int, ArchiveEntry] = {}
    for index, entry in entries.items():
        parents = _known(entry.parents, entries, f"$objects[{index}].parentsInPlanes", damage)
        children = _known(entry.children, entries, f"$objects[{index}].childrenInPlanes",
                          damage)
        kept[index] = ArchiveEntry(
            index=entry.index, name=entry.name, inheritance=entry.inheritance,
            location=entry.location, names=entry.names, locations=entry.locations,
            parents=parents, children=children, properties=entry.properties,
            record=entry.record, is_root=entry.is_root)
    return kept


def _known(links: Mapping[str, tuple[int, ...]], entries: Mapping[int, ArchiveEntry],
           where: str, damage: ArchiveDamage) -> dict[str, tuple[int, ...]]:
    found: dict[str, tuple[int, ...]] = {}
    for plane, indexes in links.items():
        good = tuple(i for i in indexes if i in entries)
        if len(good) != len(indexes):
            missing = next(i for i in indexes if i not in entries)
            damage.note(BAD_LINK, f"{where}.{plane}", f"links to object {missing}, which is "
                        "not a readable registry entry")
        found[plane] = good
    return found
