"""From an archive's entries to a :class:`MachineModel` with every plane (IORegistryExplorer's
view of a whole registry, booted again).

The rules, each a choice documented here:

- **Root.** The entry marked ``isRegistryRoot`` (else the one named ``Root`` with no parents)
  is the registry root; its properties become the model's ``root_properties`` (the OS build
  that chooses among class facts). Its first child in the IOService plane is the platform
  device, the model's root nub (in a damaged archive that lost that list, the entry of class
  ``IOPlatformExpertDevice``).
- **IOService.** The IOService tree is walked from the platform device through each entry's
  ordered ``childrenInPlanes`` (and, where a damaged archive kept only the child's side of
  a link, its ``parentsInPlanes``: the child comes after the listed ones). An entry is
  placed where it is first reached (as ``ioreg`` prints it first there); each further
  IOService parent becomes a :class:`PlaneLink` into IOService, as the text importer does for
  re-printed entries. A child that is already above its parent is a damaged link and is
  dropped. IOService-plane entries that hold a matched
  personality's copy are recorded drivers (:func:`~iokit_host.ioreg_import.is_recorded_driver`).
- **Other planes.** Every entry's parents in every other plane (IODeviceTree, IOPower,
  IOACPIPlane, IOUSB, IOFireWire, ...) become links with its name and location there (when
  they differ from its global ones) and its position among the parent's children. Entries in
  no IOService position go to ``MachineModel.entries``. A link that would close a loop in its
  plane is dropped and reported. Entries linked nowhere (user clients closed while the archive
  was being saved) are left out, as ``ioreg`` would not show them; their chains still count.
- **State.** Each entry keeps its recorded state, busy count and bundle as an
  :class:`EntryRecord`; the machine builder restores it on what the kernel does not register.
- **Class chains.** Every entry's ``inheritance`` gives ``MachineModel.classes`` (the first
  superclass recorded for a class is kept); they are the machine's own ancestry.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

from iokit_sdk.keys import RESOURCES_CLASS, SERVICE_PLANE, STANDARD_PLANES

from iokit_host.explorer_archive.damage import (
    BAD_CLASS_CHAIN,
    BAD_ENTRY,
    BAD_LINK,
    MISPLACED_RESOURCES,
    ArchiveDamage,
)
from iokit_host.explorer_archive.entries import ArchiveEntry
from iokit_host.explorer_archive.errors import ArchiveInvalid
from iokit_host.ioreg_import import is_recorded_driver
from iokit_host.machine.links import MAX_SHOWN, loop_links, overfull_link
from iokit_host.machine.model import MachineModel, NubSpec, PlaneLink
from iokit_host.matching.recorded_ancestry import acyclic_ancestry

__all__ = ["build_archive_model", "entry_id"]


def entry_id(index: int) -> str:
    """The model id of the entry at ``$objects[index]``."""
    return f"object-{index}"


def build_archive_model(entries: dict[int, ArchiveEntry], *, source: str,
                        damage: ArchiveDamage) -> MachineModel:
    """The machine model of an archive's entries (see the module doc).

    :raises ArchiveInvalid: when no registry root with an IOService child is left.
    """
    entries = _both_sides(entries)
    root = _root(entries, source, damage)
    service = root.children.get(SERVICE_PLANE, ()) or _platform_by_class(entries)
    if not service:
        raise ArchiveInvalid("the registry root has no child in the IOService plane",
                             file=source, key=f"$objects[{root.index}].childrenInPlanes",
                             hint="save the whole registry (all planes) in IORegistryExplorer")
    platform = entries[service[0]]
    tree_parent = _service_tree(platform, entries, damage)
    _lift_resources(platform, entries, tree_parent, damage)
    links = _plane_links(entries, root, tree_parent, damage)
    specs = _specs(platform, entries, tree_parent, links)
    # Entries outside the IOService tree that link somewhere, or that a link names as parent
    # (an IOPowerConnection whose own parent was never recorded): the rest are unreachable.
    named = {link.parent for kept in links.values() for link in kept}
    outside = tuple(_spec(entries[i], links.get(i, ()), ()) for i in entries
                    if i not in tree_parent and i != root.index
                    and (links.get(i) or entry_id(i) in named))
    planes = sorted({plane for entry in entries.values() for plane in entry.parents}
                    - {*STANDARD_PLANES})
    drivers = sum(1 for _, nub in specs.walk() if nub.recorded_driver)
    return MachineModel(
        name=platform.name.lower(),
        description=f"{platform.name} from an IORegistryExplorer archive ({len(tree_parent)} "
                    f"IOService entries, {len(outside)} in other planes only, {drivers} "
                    "recorded drivers)",
        root=specs, classes=_classes(entries, damage), planes=tuple(planes), source=source,
        root_properties=dict(root.properties), diagnostics=damage.diagnostics(),
        entries=outside)


def _both_sides(entries: dict[int, ArchiveEntry]) -> dict[int, ArchiveEntry]:
    """``entries`` with each link on both sides: a parent's children in a plane name every
    entry that names it as its parent there, those missing added after the others, in object
    order. A whole archive records each link twice; a damaged one may keep only the child's
    side (a list of children unreadable, or cut off with the end of the file)."""
    listed: dict[tuple[int, str], set[int]] = {}
    missing: dict[int, dict[str, list[int]]] = {}
    for index, entry in entries.items():
        for plane, parents in entry.parents.items():
            for parent in parents:
                if parent not in entries:
                    continue
                key = (parent, plane)
                known = listed.get(key)
                if known is None:
                    known = listed[key] = set(entries[parent].children.get(plane, ()))
                if index not in known:
                    known.add(index)
                    missing.setdefault(parent, {}).setdefault(plane, []).append(index)
    if not missing:
        return entries
    fixed = dict(entries)
    for parent, planes in missing.items():
        children = dict(entries[parent].children)
        for plane, added in planes.items():
            children[plane] = (*children.get(plane, ()), *added)
        fixed[parent] = replace(entries[parent], children=children)
    return fixed


def _platform_by_class(entries: dict[int, ArchiveEntry]) -> tuple[int, ...]:
    """The platform device found by its class, where the root's list of IOService children
    is lost (it is one of the last things NSKeyedArchiver writes, so a file cut short loses
    it first): the one ``IOPlatformExpertDevice`` a registry has, the first if several."""
    holds: dict[int, bool] = {}  # by chain object: entries may share one (entries._inheritance)
    for index, entry in entries.items():
        chain = entry.inheritance
        if id(chain) not in holds:
            holds[id(chain)] = "IOPlatformExpertDevice" in chain
        if holds[id(chain)]:
            return (index,)
    return ()


def _root(entries: dict[int, ArchiveEntry], source: str, damage: ArchiveDamage
          ) -> ArchiveEntry:
    """The registry root; when its object is unreadable but a platform device was read, an
    empty root in its place (one damaged object, where the machine below it survived: the
    platform device is then found by its class, :func:`_platform_by_class`)."""
    marked = [entry for entry in entries.values() if entry.is_root]
    if not marked:
        marked = [entry for entry in entries.values()
                  if entry.name == "Root" and not any(entry.parents.values())]
    if marked:
        return marked[0]
    if not _platform_by_class(entries):
        raise ArchiveInvalid("the archive holds no registry root", file=source,
                             key="$top.root.registryEntries",
                             hint="save the whole registry in IORegistryExplorer")
    damage.note(BAD_ENTRY, "$top.root.registryEntries", "the registry root is not among the "
                "entries that can be read; an empty root stands in its place")
    return ArchiveEntry(index=_MADE_UP_ROOT, name="Root", inheritance=("IORegistryEntry",),
                        is_root=True)


#: The index of a root made up for an unreadable one: no object's.
_MADE_UP_ROOT = -1


def _service_tree(platform: ArchiveEntry, entries: dict[int, ArchiveEntry],
                  damage: ArchiveDamage) -> dict[int, int | None]:
    """Entry index -> its parent in the IOService tree (None for the platform device)."""
    parent_of: dict[int, int | None] = {platform.index: None}
    stack = [platform.index]
    while stack:
        index = stack.pop()
        fresh = [child for child in entries[index].children.get(SERVICE_PLANE, ())
                 if child not in parent_of]
        for child in fresh:
            parent_of[child] = index
        stack.extend(reversed(fresh))
    return parent_of


def _lift_resources(platform: ArchiveEntry, entries: dict[int, ArchiveEntry],
                    tree_parent: dict[int, int | None], damage: ArchiveDamage) -> None:
    """Put each IOResources the archive links below another entry than the platform device
    under the platform device, with its subtree: where IOKit attaches it, and where the
    file format holds it (a damaged link would otherwise cost the whole machine)."""
    for index, parent in tree_parent.items():
        if parent not in (None, platform.index) and entries[index].class_name == RESOURCES_CLASS:
            damage.note(MISPLACED_RESOURCES, f"$objects[{index}].parentsInPlanes.IOService",
                        f"{entries[index].name!r} below object {parent} "
                        f"({entries[parent].class_name})")
            tree_parent[index] = platform.index


def _plane_links(entries: dict[int, ArchiveEntry], root: ArchiveEntry,
                 tree_parent: dict[int, int | None], damage: ArchiveDamage
                 ) -> dict[int, tuple[PlaneLink, ...]]:
    """Each entry's links beside its IOService tree position, loops dropped."""
    raw: dict[int, list[tuple[str, int]]] = {}
    for index, entry in entries.items():
        if index == root.index:
            continue
        for plane, parents in entry.parents.items():
            for parent in parents:
                # (IOResources has one IOService parent: a link beside it is one it was
                # moved back from, see _lift_resources.)
                in_tree = plane == SERVICE_PLANE and (
                    tree_parent.get(index) == parent or parent == root.index
                    or entry.class_name == RESOURCES_CLASS)
                if not in_tree and not (plane == SERVICE_PLANE and index not in tree_parent):
                    raw.setdefault(index, []).append((plane, parent))
    _drop_loops(raw, tree_parent, damage)
    links: dict[int, tuple[PlaneLink, ...]] = {}
    orders: dict[tuple[int, str], dict[int, int]] = {}
    for index, pairs in raw.items():
        entry = entries[index]
        links[index] = tuple(_link(entry, plane, parent, entries, root, orders)
                             for plane, parent in pairs)
    return links


def _link(entry: ArchiveEntry, plane: str, parent: int, entries: dict[int, ArchiveEntry],
          root: ArchiveEntry, orders: dict[tuple[int, str], dict[int, int]]) -> PlaneLink:
    """The link of ``entry`` below ``parent``; ``orders`` keeps each parent's children's
    positions, found once (a parent of 50,000 children is not searched once a child)."""
    name = entry.names.get(plane)
    location = entry.locations.get(plane)
    order = orders.get((parent, plane))
    if order is None:
        siblings = entries[parent].children.get(plane, ())
        order = orders[parent, plane] = {child: number for number, child
                                         in reversed(list(enumerate(siblings)))}
    return PlaneLink(
        plane=plane, parent=None if parent == root.index else entry_id(parent),
        name=name if name is not None and name != entry.name else None,
        location=location if location is not None and location != entry.location else None,
        order=order.get(entry.index))


def _drop_loops(raw: dict[int, list[tuple[str, int]]], tree_parent: dict[int, int | None],
                damage: ArchiveDamage) -> None:
    """Remove each link that closes a loop in its plane (the registry would refuse it),
    counting the IOService tree's own links: one search per plane, however many loops."""
    edges_of: dict[str, dict[int, list[tuple[int, int]]]] = {}
    for index, pairs in raw.items():
        for number, (plane, parent) in enumerate(pairs):
            edges_of.setdefault(plane, {}).setdefault(index, []).append((parent, number))
    dropped: dict[int, set[int]] = {}
    for plane, edges in edges_of.items():
        if plane == SERVICE_PLANE:
            for child, above in tree_parent.items():
                if above is not None:
                    edges.setdefault(child, []).append((above, -1))
        looped: dict[int, set[int]] = {}
        for index, number in loop_links(edges):
            damage.note(BAD_LINK, f"$objects[{index}].parentsInPlanes.{plane}",
                        f"links object {index} below object {raw[index][number][1]}, which "
                        "is below it already")
            dropped.setdefault(index, set()).add(number)
            looped.setdefault(index, set()).add(number)
        for index, numbers in looped.items():  # once each: one a loop would cost a dense plane
            edges[index] = [step for step in edges[index] if step[1] not in numbers]
        for index, number in _overfull_links(edges, tree_parent):
            damage.note(BAD_LINK, f"$objects[{index}].parentsInPlanes.{plane}",
                        f"links object {index} below object {raw[index][number][1]} as well, "
                        f"which would show {plane} along more than {MAX_SHOWN} paths")
            dropped.setdefault(index, set()).add(number)
    for index, numbers in dropped.items():
        raw[index] = [pair for number, pair in enumerate(raw[index]) if number not in numbers]


#: Second parents dropped one by one, looking again after each, before the rest of a plane's
#: go at once: a few make a plane overfull in any archive seen, and each look is a pass.
_MAX_OVERFULL_LOOKS = 64
#: The links those looks may pass over in all: a plane of many links (an archive's hundreds
#: of thousands, :data:`~.entries.MAX_LINKS`) is looked at fewer times.
_MAX_OVERFULL_WORK = 1 << 20


def _overfull_links(edges: dict[int, list[tuple[int, int]]],
                    tree_parent: dict[int, int | None]) -> list[tuple[int, int]]:
    """The second parents to drop so that the plane of ``edges`` shows at most
    :data:`~iokit_host.machine.links.MAX_SHOWN` entries (removed from ``edges``): each that
    :func:`~iokit_host.machine.links.overfull_link` blames, or, blamed a tree link, the last
    second parent of the nearest entry above it that has one."""
    found: list[tuple[int, int]] = []
    looks = min(_MAX_OVERFULL_LOOKS, _MAX_OVERFULL_WORK // (sum(map(len, edges.values())) + 1))
    while (blamed := overfull_link(edges)) is not None:
        index, number = blamed
        while number < 0 and index in tree_parent:
            extra = [step[1] for step in edges.get(index, ()) if step[1] >= 0]
            if extra:
                number = extra[-1]
                break
            above = tree_parent[index]
            if above is None:
                break
            index = above
        if number < 0 or len(found) >= looks:
            rest = [(child, step[1]) for child, steps in edges.items() for step in steps
                    if step[1] >= 0]
            edges.update({child: [step for step in steps if step[1] < 0]
                          for child, steps in edges.items()})
            return found + rest
        found.append((index, number))
        edges[index] = [step for step in edges[index] if step[1] != number]
    return found


def _specs(platform: ArchiveEntry, entries: dict[int, ArchiveEntry],
           tree_parent: dict[int, int | None], links: dict[int, tuple[PlaneLink, ...]]
           ) -> NubSpec:
    """The IOService tree as NubSpecs, built bottom-up without recursion."""
    children: dict[int, list[int]] = {}
    for index, parent in tree_parent.items():
        if parent is not None:
            children.setdefault(parent, []).append(index)
    order: list[int] = []
    stack = [platform.index]
    while stack:
        index = stack.pop()
        order.append(index)
        stack.extend(children.get(index, ()))
    built: dict[int, NubSpec] = {}
    for index in reversed(order):
        kids = tuple(built.pop(child) for child in _in_order(entries[index], children))
        built[index] = _spec(entries[index], links.get(index, ()), kids, service=True)
    return built[platform.index]


def _in_order(entry: ArchiveEntry, children: dict[int, list[int]]) -> list[int]:
    """The children placed under ``entry``: those it lists, in its order, then any placed
    under it that it does not list (an IOResources moved back), in object order."""
    placed = set(children.get(entry.index, ()))
    listed = [child for child in entry.children.get(SERVICE_PLANE, ()) if child in placed]
    if len(listed) == len(placed):
        return listed
    return listed + sorted(placed.difference(listed))


def _spec(entry: ArchiveEntry, links: tuple[PlaneLink, ...], children: tuple[NubSpec, ...],
          *, service: bool = False) -> NubSpec:
    return NubSpec(
        class_name=entry.class_name,
        name=None if entry.name == entry.class_name else entry.name,
        location=entry.location, properties=dict(entry.properties), children=children,
        id=entry_id(entry.index), planes=links,
        recorded_driver=service and is_recorded_driver(entry.properties),
        record=entry.record)


def _classes(entries: dict[int, ArchiveEntry], damage: ArchiveDamage) -> dict[str, str]:
    """The entries' chains as the machine's ancestry (:mod:`~iokit_host.matching.
    recorded_ancestry`): a link that closes a loop or overruns IOKit's chains is noted."""
    where: dict[tuple[str, str], int] = {}
    seen: set[int] = set()  # chain objects taken: entries may share one (entries._inheritance)
    for entry in entries.values():
        if id(entry.inheritance) in seen:
            continue  # its links are in, with the index of an entry before
        seen.add(id(entry.inheritance))
        for link in pairwise(entry.inheritance):
            where.setdefault(link, entry.index)
    classes, refused = acyclic_ancestry(where)
    for child, parent, why in refused:
        damage.note(BAD_CLASS_CHAIN, f"$objects[{where[child, parent]}].inheritance",
                    f"{child} : {parent} {why}")
    return classes
