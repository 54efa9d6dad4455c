"""Entries printed more than once: a re-print under another parent, or a repeated line.

IOKit's counterpart is an entry attached to several parents in one plane (``attachToParent``
called again with another parent: IOHIDSystem under every HID event driver). ``ioreg`` prints
such an entry, with its subtree, under each parent, with the same id; the first printed
occurrence is the entry, each later one names another parent. A registry never attaches an
entry twice to the same parent, nor under itself, so the same id printed again under the same
parent (or under itself) is not a re-print but damage: a line duplicated while pasting or
editing. Both are folded into the first occurrence here: the later occurrence's children that
the first lacks move to it (a re-print's subtree repeats the first's, so nothing moves then;
after a duplicated line the entry's block and children follow the copy, and they move), and
properties the first lacks are taken from the later one. Only a re-print adds a parent;
a repeated line is counted as damage (``ioreg-dump-repeated-entry``). An entry that shares an
id with an entry of another name, location or class is neither: its id was edited (zeroed,
copied), so it is kept as an entry of its own, without the id (``ioreg-dump-bad-id``).

Dumps without ids (PowerPC-era ``<class X, retain count N>`` headers) print re-prints the
same way, with nothing to recognise them by but what is printed. One kind is certain: a driver
that matched ``IOResources`` (its properties hold ``IOProviderClass = IOResources`` and an
``IOClass``): IOResources is one nub, so each such personality has one instance, and a later
print of that class with the same name, location and personality (``IOClass``,
``IOMatchCategory``, bundle, score) is a re-print (IOHIDSystem
under every HID device, IONetworkStack under every interface, IOBSDConsole under every
keyboard). Its re-printed subtree is matched to the first's by name, location and class.
Such a first occurrence takes a negative id internally, so :func:`node_id` still names it
by its line.

The walk is iterative and in print order, so the parents are listed in print order.
"""

from __future__ import annotations

from itertools import repeat

from iokit_sdk.keys import CLASS, PROVIDER_CLASS, RESOURCES_CLASS

from iokit_host.errors import quoted
from iokit_host.ioreg_import.damage import BAD_ID, REPEATED, DumpDamage
from iokit_host.ioreg_import.tree import DumpNode

__all__ = ["fold_occurrences", "node_id"]


def node_id(node: DumpNode) -> str:
    """The model id of an entry: its registry id, or its line when the dump shows no ids."""
    if node.entry_id is not None and node.entry_id >= 0:
        return f"0x{node.entry_id:x}"
    return f"line-{node.line}"


def fold_occurrences(root: DumpNode, damage: DumpDamage) -> dict[int, list[str]]:
    """Fold every later occurrence of an entry into its first (in place, see the module doc).

    :returns: entry id -> the ids of the further parents its re-prints name, in print order.
    """
    first: dict[int, DumpNode] = {}
    parent_of: dict[int, DumpNode] = {}  # id() of a kept entry -> its parent
    extra: dict[int, dict[str, None]] = {}  # (ordered sets: a parent is named once)
    singles: dict[tuple[str, str | None, str], DumpNode] = {}
    kept = _KeptChildren()
    stack: list[tuple[DumpNode, DumpNode | None, bool]] = [(root, None, False)]
    while stack:
        node, parent, echo = stack.pop()
        printed = node.children
        unnumbered = node.entry_id is None  # printed without one (not an edited one)
        known = first.get(node.entry_id) if node.entry_id is not None else None
        if known is not None and not _same_entry(known, node):
            damage.note(BAD_ID, node.line, f"{quoted(node.name)} has the id {node_id(node)} of "
                        f"{quoted(known.name)} ({known.class_name}, {damage.unit} {known.line})")
            node.entry_id = known = None
        if unnumbered and parent is not None:
            known = _unnumbered_first(node, parent, echo, singles, kept)
            if known is not None:
                if known.entry_id is None:
                    known.entry_id = -(known.line + 1)  # never a registry id
                    first[known.entry_id] = known
                node.entry_id = known.entry_id
        entry_id = node.entry_id
        if entry_id is None or known is None or parent is None:
            if entry_id is not None:
                first.setdefault(entry_id, node)
            if parent is not None:
                parent.children.append(node)
                parent_of[id(node)] = parent
                kept.add(parent, node)
            node.children = []
            target = node
        else:
            target = known
            if echo or _repeated(known, parent, parent_of):
                if not echo:
                    damage.note(REPEATED, node.line, f"{quoted(node.name)} (id {node_id(node)}) "
                                f"printed again under the same parent, first at "
                                f"{damage.unit} {known.line}")
                _merge_properties(known, node)
            else:
                extra.setdefault(entry_id, {})[node_id(parent)] = None
                echo = True
        if printed:
            stack.extend(zip(reversed(printed), repeat(target), repeat(echo)))
    return {entry_id: list(parents) for entry_id, parents in extra.items()}


class _KeptChildren:
    """The first kept child of each name, location and class, per parent: what a re-print's
    child is matched to (:func:`_unnumbered_first`). A parent's index is made when a
    re-print under it is first matched, and kept up as children join it, so matching costs
    a lookup, not a walk of the children (a re-print of thousands)."""

    __slots__ = ("_indexes",)

    def __init__(self) -> None:
        self._indexes: dict[int, dict[tuple[str, str | None, str], DumpNode]] = {}

    def add(self, parent: DumpNode, child: DumpNode) -> None:
        if self._indexes:  # (none at all in a dump with ids: nothing to do per entry)
            index = self._indexes.get(id(parent))
            if index is not None:
                index.setdefault(_identity(child), child)

    def first(self, parent: DumpNode, child: DumpNode) -> DumpNode | None:
        index = self._indexes.get(id(parent))
        if index is None:
            index = self._indexes[id(parent)] = {}
            for kept in reversed(parent.children):
                index[_identity(kept)] = kept  # (the first of each ends up kept)
        return index.get(_identity(child))


def _identity(node: DumpNode) -> tuple[str, str | None, str]:
    return node.name, node.location, node.class_name


def _unnumbered_first(node: DumpNode, parent: DumpNode, echo: bool,
                      singles: dict[tuple[str, str | None, str], DumpNode],
                      kept: _KeptChildren) -> DumpNode | None:
    """The first print of an entry printed without an id, when this print is known to repeat
    it (see the module doc): inside a re-print, the first's child of the same name, location
    and class; else a driver of IOResources printed before with the same properties."""
    if echo:
        return kept.first(parent, node)
    properties = node.properties
    if properties is None or properties.get(PROVIDER_CLASS) != RESOURCES_CLASS or \
            CLASS not in properties:
        return None
    seen = singles.setdefault(_identity(node), node)
    if seen is node or seen.properties is None:
        return None
    # The personality it matched with, not live values (IOHIDSystem's idle time moves on).
    same = all(seen.properties.get(k) == properties.get(k) for k in _PERSONALITY_KEYS)
    return seen if same else None


#: What identifies an IOResources driver's personality (one instance per category).
_PERSONALITY_KEYS = (CLASS, PROVIDER_CLASS, "IOMatchCategory", "CFBundleIdentifier",
                     "IOProbeScore")


def _same_entry(known: DumpNode, later: DumpNode) -> bool:
    """True when ``later`` prints the entry ``known`` is: a re-print or a repeated line shows
    the same name, location and class; anything else sharing its id has an edited id."""
    return _identity(known) == _identity(later)


def _repeated(known: DumpNode, parent: DumpNode, parent_of: dict[int, DumpNode]) -> bool:
    """True when ``known`` printed again under ``parent`` cannot be a re-print: ``parent`` is
    its parent already, or ``known`` itself, or below it (a registry has no cycles)."""
    if parent_of.get(id(known)) is parent:
        return True
    ancestor: DumpNode | None = parent
    while ancestor is not None:
        if ancestor is known:
            return True
        ancestor = parent_of.get(id(ancestor))
    return False


def _merge_properties(known: DumpNode, later: DumpNode) -> None:
    if later.properties is None:
        return
    if known.properties is None:
        known.properties = later.properties
        return
    for key, value in later.properties.items():
        known.properties.setdefault(key, value)
