"""Importing the property list ``ioreg -a`` writes (the inverse of ``ioreg.c``'s archive mode, as
:mod:`iokit_host.ioreg.archive` and macOS's ``ioreg -a`` write it).

The document is Root's dictionary: each entry's properties beside ``IORegistryEntryName``,
``IORegistryEntryLocation``, ``IORegistryEntryID``, ``IOObjectClass``, ``IOObjectInheritance``
(``-i``), ``IOServiceState``, ``IOServiceBusyState`` and its children under
``IORegistryEntryChildren``; with ``-r`` it is an array of subtrees. It is read into the same
:class:`~iokit_host.ioreg_import.tree.DumpNode` tree a text dump gives, so every rule of
:mod:`iokit_host.ioreg_import.model` (plane, recorded drivers, entries under several parents,
recorded chains) applies unchanged. Positions in diagnostics count entries in document order.

The tree is walked on an explicit stack (``ioreg -a`` nests each child inside its parent, so
a deep registry makes a deep document). An entry that is not a dictionary, or has no class,
is dropped with its subtree; a property that is not a registry value is dropped alone; each
becomes one ``ioreg-dump-*`` warning (or, strict, refuses the document).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from iokit_host.errors import quoted
from iokit_host.ioreg_import.cfvalues import CFValueError, check_key, typed_value
from iokit_host.ioreg_import.damage import (
    BAD_ENTRY,
    BAD_VALUE,
    NO_ROOT,
    NUL,
    TOO_LARGE,
    DumpDamage,
)
from iokit_host.ioreg_import.errors import IoregDumpInvalid
from iokit_host.ioreg_import.model import build_model
from iokit_host.ioreg_import.occurrences import node_id
from iokit_host.ioreg_import.tree import MAX_ENTRIES, DumpNode
from iokit_host.machine.model import EntryRecord, MachineModel, NubSpec

__all__ = ["CHILDREN", "is_ioreg_plist", "plist_model", "read_plist_tree"]

CHILDREN = "IORegistryEntryChildren"
_NAME = "IORegistryEntryName"
_LOCATION = "IORegistryEntryLocation"
_ID = "IORegistryEntryID"
_CLASS = "IOObjectClass"
_INHERITANCE = "IOObjectInheritance"
_STATE = "IOServiceState"
_BUSY = "IOServiceBusyState"
#: Keys ioreg adds beside the properties; they are not properties of the entry.
_META = frozenset({CHILDREN, _NAME, _LOCATION, _ID, _CLASS, _INHERITANCE, _STATE, _BUSY,
                   "IOObjectRetainCount", "IOServiceBusyTime"})
_INACTIVE, _REGISTERED, _MATCHED = 0x1, 0x2, 0x4


def is_ioreg_plist(document: Any) -> bool:
    """True when a loaded property list has ``ioreg -a``'s shape (an entry with a class)."""
    first = document[0] if isinstance(document, list) and document else document
    return _is_entry(first)


def plist_model(document: Any, *, source: str, strict: bool) -> MachineModel:
    """The machine model of a loaded ``ioreg -a`` document (see the module doc).

    :raises IoregDumpInvalid: not such a document (or, strict, a damaged one).
    """
    damage = DumpDamage(source, strict=strict, unit="entry")
    root = read_plist_tree(document, source, damage)
    model = build_model(root, source=source, damage=damage)
    records = _records(root)
    if not records:
        return model
    entries = tuple(replace(entry, record=records.get(entry.id or "")) for entry in model.entries)
    return replace(model, root=_with_records(model, records), entries=entries)


def read_plist_tree(document: Any, source: str, damage: DumpDamage) -> DumpNode:
    """The registry root of an ``ioreg -a`` document, as a dump's tree."""
    if isinstance(document, list):
        # ``ioreg -a -r``: subtrees without the root above them.
        damage.note(NO_ROOT, 1, "the document is an array of subtrees (ioreg -a -r)")
        document = {_NAME: "Root", _CLASS: "IORegistryEntry", CHILDREN: document}
    if not _is_entry(document):
        raise IoregDumpInvalid("this property list is not what ioreg -a writes: its top is "
                               "not a registry entry with IOObjectClass", file=source,
                               key="entry 1", hint="save the registry with ioreg -a -l > "
                               "FILE.plist, or give an IORegistryExplorer archive")
    reader = _Reader(damage)
    root = reader.node(document, 0)
    if root is None:  # not reached: _is_entry checked what node() needs
        raise IoregDumpInvalid("the top entry cannot be read", file=source, key="entry 1")
    return reader.read_below(document, root)


def _is_entry(table: Any) -> bool:
    """A dictionary with a non-empty ``IOObjectClass`` string: what an entry needs."""
    return isinstance(table, Mapping) and isinstance(table.get(_CLASS), str) and \
        bool(table[_CLASS].replace("\0", ""))


class _Reader:
    def __init__(self, damage: DumpDamage) -> None:
        self.damage = damage
        self.count = 0
        # The entries' dictionaries met, by identity: ioreg builds each entry's anew, even
        # one printed under two parents, so a binary file whose object for one is listed
        # twice was edited or damaged; its tree, walked, would be as large as the file's
        # references allow (a 60 KB file stood for 50,000 entries: 25 s and 2 GB).
        self.seen: set[int] = set()

    def read_below(self, document: Mapping[str, Any], root: DumpNode) -> DumpNode:
        stack: list[tuple[Any, DumpNode]] = [(document, root)]
        while stack:
            table, node = stack.pop()
            children = table.get(CHILDREN, [])
            if not isinstance(children, list):
                self.damage.note(BAD_ENTRY, node.line, f"{CHILDREN} of {quoted(node.name)} is not "
                                 "an array")
                continue
            made: list[tuple[Any, DumpNode]] = []
            for child in children:
                if self.count >= MAX_ENTRIES:
                    self.damage.note(TOO_LARGE, self.count, f"more than {MAX_ENTRIES} entries")
                    return root
                if isinstance(child, Mapping):
                    if id(child) in self.seen:
                        self.damage.note(BAD_ENTRY, node.line, "an entry the file stores once "
                                         f"listed again, under {quoted(node.name)}: left out")
                        continue
                    self.seen.add(id(child))
                kid = self.node(child, node.depth + 1)
                if kid is not None:
                    node.children.append(kid)
                    made.append((child, kid))
            stack.extend(reversed(made))
        return root

    def node(self, table: Any, depth: int) -> DumpNode | None:
        self.count += 1
        number = self.count
        if not _is_entry(table):
            self.damage.note(BAD_ENTRY, number, "an entry that is not a dictionary with an "
                             "IOObjectClass string")
            return None
        class_name = self.io_name(table, _CLASS, number)
        name = self.io_name(table, _NAME, number)
        location = self.io_name(table, _LOCATION, number)
        entry_id = table.get(_ID)
        node = DumpNode(
            # An empty name is a name (an IOMedia's in the device tree plane, ``@1:0``), as
            # the text importer keeps it; only a missing one falls back to the class's.
            name=name if isinstance(name, str) else class_name,
            location=location if isinstance(location, str) and location else None,
            class_name=class_name, line=number, depth=depth,
            inheritance=_chain(table.get(_INHERITANCE), class_name),
            entry_id=entry_id if type(entry_id) is int and entry_id >= 0 else None,
            states=_states(table),
            properties=self.properties(table, number))
        return node

    def io_name(self, table: Mapping[str, Any], key: str, number: int) -> Any:
        """The entry's class, name or location without the NUL characters it holds, which
        no io_name_t holds (``ioreg`` writes none; printed, they would be raw NULs)."""
        value = table.get(key)
        if isinstance(value, str) and "\0" in value:
            self.damage.note(NUL, number, f"{key} holds a NUL character")
            return value.replace("\0", "")
        return value

    def properties(self, table: Mapping[str, Any], number: int) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for key, value in table.items():
            if key in _META:
                continue
            try:
                check_key(key, "a property key")
                properties[key] = typed_value(value, key)
            except CFValueError as error:
                self.damage.note(BAD_VALUE, number, str(error))
        return properties


def _chain(value: Any, class_name: str) -> tuple[str, ...]:
    """``IOObjectInheritance``, most derived first as the dump tree keeps it (ioreg writes the
    chain from the root class down)."""
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        return ()
    chain = tuple(c for c in value if c != "OSObject")
    if chain and chain[-1] == class_name:
        chain = chain[::-1]
    return chain if chain and chain[0] == class_name else ()


def _states(table: Mapping[str, Any]) -> tuple[str, ...]:
    state, busy = table.get(_STATE), table.get(_BUSY)
    if type(state) is not int:
        return ()
    return ("registered" if state & _REGISTERED else "!registered",
            "matched" if state & _MATCHED else "!matched",
            "inactive" if state & _INACTIVE else "active",
            f"busy {busy if type(busy) is int else 0}")


def _records(root: DumpNode) -> dict[str, EntryRecord]:
    """Each node's recorded state by model id (:func:`node_id`'s), where it was written."""
    records: dict[str, EntryRecord] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.states:
            digits = node.states[3].removeprefix("busy ")
            # IOServiceGetBusyState's count is a 32-bit int, as a model's is: a larger one
            # (an edited file) is held to the most a model takes, as the archive reader does;
            # its digits are not converted past that.
            busy = 0
            if digits.isascii() and digits.isdigit():
                busy = min(int(digits.lstrip("0")[:11] or "0"), (1 << 31) - 1)
            records[node_id(node)] = EntryRecord(
                registered=node.states[0] == "registered", matched=node.states[1] == "matched",
                active=node.states[2] == "active", busy=busy)
    return records


def _with_records(model: MachineModel, records: dict[str, EntryRecord]) -> NubSpec:
    """The model's IOService tree with each nub's record set, rebuilt bottom-up."""
    order = [nub for _, nub in model.root.walk()]
    built: dict[int, NubSpec] = {}
    for nub in reversed(order):
        children = tuple(built.pop(id(child)) for child in nub.children)
        record = records.get(nub.id) if nub.id is not None else None
        built[id(nub)] = replace(nub, children=children, record=record)
    return built[id(model.root)]
