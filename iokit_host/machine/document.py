"""The machine-model document checked key by key: each table, nub, entry, link and class.

The platform expert publishes nubs from firmware it trusts; a model file is text a user wrote
or a tool imported, so every key is checked before a nub exists. Each problem is a
:class:`~iokit_host.machine.errors.MachineModelError` naming the file, the node's path and the
key, as ``kextutil`` names the plist key it refuses. :mod:`iokit_host.machine.format` reads the
TOML and hands the document here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn, TypeAlias

from iokit_sdk.keys import RESOURCES_CLASS, SERVICE_PLANE, STANDARD_PLANES

from iokit_host.errors import did_you_mean, quoted
from iokit_host.machine import errors as E
from iokit_host.machine.bootable import LOOP_HINT, RESOURCES_HINT, RESOURCES_MESSAGE, SHOWN_HINT
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.links import MAX_SHOWN, find_loop, overfull_link
from iokit_host.machine.model import MachineModel, NubSpec, PlaneLink
from iokit_host.machine.nodes import Raw, nub_label
from iokit_host.machine.records import parse_record
from iokit_host.machine.values import decode_properties
from iokit_host.matching.classes import MAX_CLASS_DEPTH, STANDARD_CLASSES

__all__ = ["DocumentParser"]

#: The most nubs (or entries) a model holds: four times the entries an ioreg dump imports
#: (ioreg_import's cap); a Mac's registry has a few thousand. Past it, memory, not the model,
#: runs out (900,000 nubs took a gigabyte and half a minute).
MAX_NODES = 200_000

_TOP_KEYS = ("machine", "classes", "root-properties", "nub", "entry")
_MACHINE_KEYS = ("name", "description", "planes")
_NUB_KEYS = ("id", "parent", "class", "name", "location", "recorded-driver", "properties",
             "planes", "record")
#: An ``[[entry]]``: a registry entry in no IOService position, linked through its planes.
_ENTRY_KEYS = ("id", "class", "name", "location", "properties", "planes", "record")
_LINK_KEYS = ("plane", "parent", "name", "location", "order")
_SERVICE_CLASS = "IOService"
_ENTRY_CLASS = "IORegistryEntry"



#: Where a problem is: a node's path, the node itself (its path spelt when needed), or nowhere.
_Node: TypeAlias = "str | Raw | None"


class DocumentParser:
    def __init__(self, source: str | None) -> None:
        self.file = source

    def fail(self, reference: str, message: str, *, node: _Node = None,
             key: str | None = None, hint: str | None = None) -> NoReturn:
        where = node.path if isinstance(node, Raw) else node
        raise MachineModelError(message, reference=reference, file=self.file, node=where,
                                key=key, hint=hint)

    # -- top level -----------------------------------------------------------------------
    def parse(self, doc: Mapping[str, Any]) -> MachineModel:
        if not isinstance(doc, Mapping):
            self.fail(E.WRONG_TYPE, f"a model is a table, not {_type(doc)}")
        self.check_keys(doc, _TOP_KEYS, None, "")
        machine = self.table(doc.get("machine", {}), None, "machine")
        self.check_keys(machine, _MACHINE_KEYS, None, "machine.")
        planes = self.plane_names(machine.get("planes", []))
        classes = self.classes(self.table(doc.get("classes", {}), None, "classes"))
        root_props = self.properties(doc.get("root-properties", {}), None, "root-properties")
        raws = self.structure(doc.get("nub"))
        extra = self.entry_raws(doc.get("entry", []), raws)
        self.check_root_class(raws[0], classes)
        specs = self.build(raws, planes, extra)
        return MachineModel(
            name=self.text(machine.get("name", self.default_name()), None, "machine.name"),
            description=self.text(machine.get("description", ""), None,
                                  "machine.description"),
            root=specs, classes=MappingProxyType(classes), planes=planes, source=self.file,
            root_properties=root_props, entries=self.entries(raws, extra, planes))

    def entries(self, raws: list[Raw], extra: list[Raw], planes: tuple[str, ...]
                ) -> tuple[NubSpec, ...]:
        # The ids once, not once per entry: a model of 50,000 entries reads in linear time.
        model_ids = self.model_ids(raws + extra)
        known_planes = frozenset((*STANDARD_PLANES, *planes))
        return tuple(self.nub(raw, (), model_ids, known_planes) for raw in extra)

    def default_name(self) -> str:
        return Path(self.file).stem if self.file else "machine"

    def check_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], node: _Node,
                   prefix: str) -> None:
        for key in table:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f"known keys: {', '.join(allowed)}"
                self.fail(E.UNKNOWN_KEY, f"unknown key '{key}'", node=node,
                          key=f"{prefix}{key}", hint=hint)

    def table(self, value: Any, node: _Node, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(E.WRONG_TYPE, f"expected a table, not {_type(value)}", node=node, key=key)
        return value

    def text(self, value: Any, node: _Node, key: str, *, empty: bool = True) -> str:
        if not isinstance(value, str):
            self.fail(E.WRONG_TYPE, f"expected a string, not {_type(value)}", node=node, key=key)
        if not empty and not value:
            self.fail(E.BAD_VALUE, "must not be empty", node=node, key=key)
        if "\0" in value:  # IOKit's names, classes and planes are C strings
            self.fail(E.BAD_VALUE, "must not contain NUL", node=node, key=key)
        return value

    def optional_text(self, table: Mapping[str, Any], key: str, node: _Node,
                      prefix: str = "") -> str | None:
        value = table.get(key)
        return None if value is None else self.text(value, node, prefix + key)

    def plane_names(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.fail(E.WRONG_TYPE, f"expected an array of plane names, not {_type(value)}",
                      key="machine.planes")
        return tuple(self.text(p, None, f"machine.planes[{i}]", empty=False)
                     for i, p in enumerate(value))

    def properties(self, value: Any, node: _Node, key: str) -> Mapping[str, Any]:
        table = self.table(value, node, key)
        try:
            decoded = decode_properties(table, file=self.file, prefix=f"{key}.")
        except MachineModelError as error:
            if node is None:
                raise
            raise error.at_node(node.path if isinstance(node, Raw) else node) from None
        return MappingProxyType(decoded)

    # -- classes -------------------------------------------------------------------------
    def classes(self, table: dict[str, Any]) -> dict[str, str]:
        declared = {}
        for name, superclass in table.items():
            self.text(superclass, None, f"classes.{name}", empty=False)
            if not name or "\0" in name:
                self.fail(E.BAD_VALUE, "a class name must not be empty or contain NUL",
                          key="classes")
            declared[name] = superclass
        self.check_class_loops(declared)
        return declared

    def check_class_loops(self, declared: dict[str, str]) -> None:
        # A model's ancestry is its machine's own and wins over the host's tables.
        # Each class is walked once: a walk stops at a class whose chain is already measured
        # (``lengths``: classes from it to the chain's end), so 100,000 classes declared one
        # below the other check in linear time, in whatever order they are declared.
        effective = {**STANDARD_CLASSES, **declared}
        lengths: dict[str, int] = {}
        for name in declared:
            chain: dict[str, int] = {name: 0}
            current = name
            while current not in lengths and (nxt := effective.get(current)) is not None:
                if nxt in chain:
                    names = list(chain)
                    loop = _shorten_chain([*names[chain[nxt]:], nxt])
                    self.fail(E.CLASS_LOOP, f"class ancestry loops: {loop}",
                              key=f"classes.{name}",
                              hint="each class needs a superclass chain ending at IOService")
                chain[nxt] = len(chain)
                current = nxt
            above = lengths.get(current, 1)
            if len(chain) - 1 + above > MAX_CLASS_DEPTH:
                self.fail(E.TOO_DEEP, f"class ancestry is {len(chain) - 1 + above} classes "
                          f"long, more than {MAX_CLASS_DEPTH}: "
                          f"{_shorten_chain(list(chain))}{' -> ...' if above > 1 else ''}",
                          key=f"classes.{name}",
                          hint="IOKit's class chains are some twenty classes long; "
                               "declare each class's real superclass")
            for link, position in chain.items():
                lengths[link] = len(chain) - 1 - position + above

    def check_root_class(self, root: Raw, declared: dict[str, str]) -> None:
        """The root is the platform-expert device, an IOService (``IOService::getPlatform``);
        an ancestry that ends at IORegistryEntry without passing IOService cannot be one."""
        effective = {**STANDARD_CLASSES, **declared}
        chain = [root.class_name]
        while chain[-1] != _SERVICE_CLASS and (nxt := effective.get(chain[-1])) is not None:
            chain.append(nxt)  # no loop: check_class_loops ran first
        if chain[-1] == _ENTRY_CLASS:
            self.fail(E.ROOT_NOT_SERVICE,
                      f"the root nub's class {root.class_name} is not an IOService "
                      f"({' -> '.join(chain)})", node=root, key="class",
                      hint="the first nub is the platform-expert device: use "
                           "IOPlatformExpertDevice or another IOService subclass")

    # -- the tree ------------------------------------------------------------------------
    def structure(self, value: Any) -> list[Raw]:
        if value is None:
            self.fail(E.STRUCTURE, "a machine needs at least one [[nub]], its root",
                      key="nub", hint="start with the platform-expert device")
        if not isinstance(value, list) or not value:
            self.fail(E.STRUCTURE, "nub must be a non-empty array of tables ([[nub]])",
                      key="nub")
        if len(value) > MAX_NODES:
            self.fail(E.TOO_LARGE, f"{len(value)} nubs, more than the {MAX_NODES} a model "
                      "holds", key="nub")
        raws: list[Raw] = []
        ids: dict[str, int] = {}
        for index, table in enumerate(value):
            raws.append(self.raw_nub(index, table, raws, ids))
        return raws

    def raw_nub(self, index: int, table: Any, raws: list[Raw], ids: dict[str, int]) -> Raw:
        label = nub_label(index)  # its path is made of the keys checked here
        table = self.table(table, label, "nub")
        self.check_keys(table, _NUB_KEYS, label, "")
        if "class" not in table:
            self.fail(E.STRUCTURE, "a nub needs a class", node=label, key="class",
                      hint='add class = "IOService"')
        class_name = self.text(table["class"], label, "class", empty=False)
        name = self.optional_text(table, "name", label)
        location = self.optional_text(table, "location", label)
        parent = self.parent_index(table, index, label, ids)
        raw = Raw(index, table, None if parent is None else raws[parent], None, class_name,
                   name, location)
        nub_id = self.optional_text(table, "id", raw)
        if nub_id is not None:
            if not nub_id:
                self.fail(E.BAD_VALUE, "an id must not be empty", node=raw, key="id")
            if nub_id in ids:
                self.fail(E.DUPLICATE_ID, f"id '{nub_id}' is already used by "
                          f"{raws[ids[nub_id]].path}", node=raw, key="id",
                          hint="ids are unique within a model")
            ids[nub_id] = index
            raw.id = nub_id
        return raw

    def entry_raws(self, value: Any, raws: list[Raw]) -> list[Raw]:
        """The ``[[entry]]`` tables: like nubs, but with no parent and no place in the tree."""
        if not isinstance(value, list):
            self.fail(E.STRUCTURE, "entry must be an array of tables ([[entry]])", key="entry")
        if len(value) + len(raws) > MAX_NODES:
            self.fail(E.TOO_LARGE, f"{len(value) + len(raws)} nubs and entries, more than the "
                      f"{MAX_NODES} a model holds", key="entry")
        ids = {raw.id: raw.index for raw in raws if raw.id is not None}
        extra: list[Raw] = []
        for number, table in enumerate(value):
            label = f"entry[{number}]"
            table = self.table(table, label, "entry")
            self.check_keys(table, _ENTRY_KEYS, label, "")
            if "class" not in table:
                self.fail(E.STRUCTURE, "an entry needs a class", node=label, key="class")
            raw = Raw(len(raws) + number, table, None, None,
                      self.text(table["class"], label, "class", empty=False),
                      self.optional_text(table, "name", label),
                      self.optional_text(table, "location", label), label)
            entry_id = self.optional_text(table, "id", label)
            if entry_id is not None:
                if not entry_id or entry_id in ids:
                    self.fail(E.DUPLICATE_ID, f"id {quoted(entry_id)} is empty or already used",
                              node=label, key="id", hint="ids are unique within a model")
                ids[entry_id] = raw.index
                raw.id = entry_id
            extra.append(raw)
        return extra

    @staticmethod
    def model_ids(raws: list[Raw]) -> set[str]:
        return {r.id for r in raws if r.id is not None and not r.id.startswith("_")}

    def parent_index(self, table: dict[str, Any], index: int, label: str,
                     ids: dict[str, int]) -> int | None:
        parent = self.optional_text(table, "parent", label)
        if index == 0:
            if parent is not None:
                self.fail(E.STRUCTURE, "the first nub is the root and has no parent",
                          node=label, key="parent")
            return None
        if parent is None:
            self.fail(E.STRUCTURE, "only the first nub may be without a parent", node=label,
                      key="parent", hint="a machine has one root; name this nub's parent id")
        if parent not in ids:
            self.fail(E.UNKNOWN_ID, f"parent '{parent}' is not the id of an earlier nub",
                      node=label, key="parent",
                      hint="give the parent nub this id, and define it before its children")
        return ids[parent]

    def build(self, raws: list[Raw], planes: tuple[str, ...], extra: list[Raw]) -> NubSpec:
        model_ids = self.model_ids(raws + extra)
        known_planes = frozenset((*STANDARD_PLANES, *planes))
        children: list[list[NubSpec]] = [[] for _ in raws]
        built: NubSpec | None = None
        for raw in reversed(raws):
            built = self.nub(raw, tuple(reversed(children[raw.index])), model_ids,
                             known_planes)
            if raw.parent is not None:
                children[raw.parent].append(built)
        assert built is not None
        self.check_plane_loops(raws + extra)
        self.check_resources(raws + extra)
        return built

    def nub(self, raw: Raw, children: tuple[NubSpec, ...], model_ids: set[str],
            known_planes: frozenset[str]) -> NubSpec:
        recorded = raw.table.get("recorded-driver", False)
        if not isinstance(recorded, bool):
            self.fail(E.WRONG_TYPE, f"expected true or false, not {_type(recorded)}",
                      node=raw, key="recorded-driver")
        links = self.links(raw, model_ids, known_planes)
        return NubSpec(
            class_name=raw.class_name, name=raw.name, location=raw.location,
            properties=self.properties(raw.table.get("properties", {}), raw, "properties"),
            children=children,
            id=raw.id if raw.id is not None and not raw.id.startswith("_") else None,
            planes=links, recorded_driver=recorded,
            record=None if "record" not in raw.table else parse_record(
                raw.table["record"], lambda ref, message, key: self.fail(ref, message,
                                                                         node=raw, key=key)))

    def links(self, raw: Raw, model_ids: set[str], known_planes: frozenset[str]
              ) -> tuple[PlaneLink, ...]:
        value = raw.table.get("planes", [])
        if not isinstance(value, list):
            self.fail(E.WRONG_TYPE, f"expected an array of tables, not {_type(value)}",
                      node=raw, key="planes")
        return tuple(self.link(raw, i, item, model_ids, known_planes)
                     for i, item in enumerate(value))

    def link(self, raw: Raw, i: int, item: Any, model_ids: set[str],
             known_planes: frozenset[str]) -> PlaneLink:
        prefix = f"planes[{i}]."
        table = self.table(item, raw, f"planes[{i}]")
        self.check_keys(table, _LINK_KEYS, raw, prefix)
        if "plane" not in table:
            self.fail(E.STRUCTURE, "a plane link needs plane", node=raw,
                      key=prefix + "plane")
        plane = self.text(table["plane"], raw, prefix + "plane", empty=False)
        if plane not in known_planes:
            self.fail(E.UNKNOWN_PLANE, f"plane '{plane}' is not declared", node=raw,
                      key=prefix + "plane",
                      hint=f'add it to [machine] planes, e.g. planes = ["{plane}"]')
        parent = self.optional_text(table, "parent", raw, prefix)
        if parent is not None and parent not in model_ids:
            self.fail(E.UNKNOWN_ID, f"no nub has id '{parent}'", node=raw,
                      key=prefix + "parent", hint="plane links name a nub's id")
        if parent is not None and parent == raw.id:
            self.fail(E.STRUCTURE, "a nub cannot be its own parent", node=raw,
                      key=prefix + "parent")
        if plane == SERVICE_PLANE and parent is None:
            self.fail(E.STRUCTURE, "an extra IOService-plane link needs a parent",
                      node=raw, key=prefix + "parent",
                      hint="the IOService plane has one root, the first nub")
        order = table.get("order")
        if order is not None and (isinstance(order, bool) or not isinstance(order, int)
                                  or order < 0):
            self.fail(E.BAD_VALUE, "expected a position from 0", node=raw, key=prefix + "order")
        return PlaneLink(plane, parent, self.optional_text(table, "name", raw, prefix),
                         self.optional_text(table, "location", raw, prefix), order)

    def check_plane_loops(self, raws: list[Raw]) -> None:
        """Refuse a link that closes a loop in its plane: in IOService counting the tree's own
        parent links, so a nub linked under its own descendant is caught too. The registry
        would refuse it at boot; here the error names the file and the node."""
        by_id = {raw.id: raw.index for raw in raws if raw.id is not None}
        parents: dict[str, dict[int, list[tuple[int, int]]]] = {}
        for raw in raws:
            for number, link in enumerate(raw.table.get("planes", [])):
                if link.get("parent") is not None:
                    edges = parents.setdefault(link["plane"], {})
                    edges.setdefault(raw.index, []).append((by_id[link["parent"]], number))
        for plane, edges in parents.items():
            if plane == SERVICE_PLANE:
                for raw in raws:
                    if raw.parent is not None:
                        edges.setdefault(raw.index, []).append((raw.parent, -1))
            found = find_loop(edges)
            if found is not None:
                raw, number = raws[found[0]], found[1]
                self.fail(E.STRUCTURE, f"this link makes a loop in plane {plane}: the nub "
                          "would sit below itself", node=raw,
                          key=f"planes[{number}].parent",
                          hint=LOOP_HINT)
            self.check_plane_size(plane, edges, raws)

    def check_plane_size(self, plane: str, edges: dict[int, list[tuple[int, int]]],
                         raws: list[Raw]) -> None:
        """Refuse extra parents that would show the plane along too many paths (see
        :mod:`~iokit_host.machine.links`): booting, printing or walking it would not end."""
        found = overfull_link(edges)
        if found is not None:
            raw, number = raws[found[0]], found[1]
            self.fail(E.TOO_LARGE, f"plane {plane} would show more than {MAX_SHOWN} entries: "
                      "each is shown again under each parent, and the extra parents above "
                      "this nub multiply them", node=raw,
                      key="parent" if number < 0 else f"planes[{number}].parent",
                      hint=SHOWN_HINT)

    def check_resources(self, raws: list[Raw]) -> None:
        for raw in raws:
            # The root itself may be IOResources: an `ioreg -r -c IOResources` dump imports so.
            if raw.class_name == RESOURCES_CLASS and raw.parent not in (0, None):
                self.fail(E.RESOURCES_PLACEMENT, RESOURCES_MESSAGE, node=raw, key="parent",
                          hint=RESOURCES_HINT)


def _shorten_chain(names: list[str], keep: int = 8) -> str:
    """``A -> B -> ... -> A`` for a message: a loop of 100,000 classes names its ends only."""
    if len(names) <= 2 * keep:
        return " -> ".join(names)
    hidden = len(names) - 2 * keep
    return " -> ".join([*names[:keep], f"... ({hidden} more)", *names[-keep:]])


def _type(value: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a float"}.get(type(value), type(value).__name__)
