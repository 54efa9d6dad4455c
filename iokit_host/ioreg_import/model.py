"""From a read dump to a :class:`MachineModel`: nubs, recorded drivers, planes and class ancestry.

There is no IOKit counterpart; this is what turns "what ``ioreg -l`` printed on a Mac" into a
machine the host can boot and check itself against. The rules, each a choice documented here:

**Recorded drivers.** A driver instance's property table starts as a copy of the personality it
matched (``IOService::init(dictionary)`` in ``probeCandidates``), so it carries both
``IOProviderClass`` and ``IOClass``. A node whose properties hold *both* is a recorded driver
(``recorded_driver=True``). ``IOProviderClass`` alone is not enough: some nubs are published
with a personality-like dictionary but were never instantiated by matching (AppleMuxControl's
``AppleGraphicsControlBacklightNub`` carries ``IOProviderClass``/``IONameMatch`` without
``IOClass``, under a framebuffer it could never have matched). ``IOMatchCategory`` alone is not
enough either (``IODVDServices`` sets it on itself). Nodes printed without a property block
(tree-only dumps) cannot be classified and are kept as nubs.

**Planes.** A dump shows one plane, told by its top (:mod:`iokit_host.ioreg_import.planes`:
IODeviceTree, IOPower, IOACPIPlane, IOUSB, IOFireWire, else IOService). A dump of another plane
keeps its entries in that plane only (``MachineModel.entries``), nothing matched on them.

**Several parents.** An entry with several IOService parents (IOHIDSystem under every HID
event driver, IONetworkStack under every interface) is printed, with its subtree, under each
of them, with the same id. The first printed occurrence becomes the nub; each later one adds
a :class:`PlaneLink` into IOService naming that parent, and its reprinted subtree is folded
into the first (see :mod:`iokit_host.ioreg_import.occurrences`, which also tells a re-print
from a line repeated by damage). The dump does not say which parent came first (the provider),
so the order is print order. Planes other than IOService keep one parent per entry.

**IOResources.** IOKit attaches it to the platform-expert device, and the file format holds
it there. A dump whose indentation was edited may print it below another entry: it is moved
back under the platform entry, with its subtree (``ioreg-dump-misplaced-resources``), which
loses nothing, where refusing the dump would lose the machine.

**Class ancestry.** Only ``ioreg -i`` prints it (``IORegistryEntry:IOService:IOPCIDevice``);
those chains become ``MachineModel.classes``. Without ``-i`` nothing is inferred: the host's
built-in table of standard family classes supplies the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from pathlib import PurePath
from typing import Any

from iokit_sdk.keys import (
    CLASS,
    PROVIDER_CLASS,
    RESOURCES_CLASS,
    SERVICE_PLANE,
    STANDARD_PLANES,
)

from iokit_host.errors import quoted
from iokit_host.ioreg_import.damage import (
    BAD_CLASS_CHAIN,
    BAD_ENTRY,
    MISPLACED_RESOURCES,
    DumpDamage,
)
from iokit_host.ioreg_import.errors import IoregDumpInvalid
from iokit_host.ioreg_import.occurrences import fold_occurrences, node_id
from iokit_host.ioreg_import.planes import detect_plane, plane_entries, platform_name
from iokit_host.ioreg_import.tree import DumpNode
from iokit_host.machine.model import MachineModel, NubSpec, PlaneLink, imported_nub
from iokit_host.matching.recorded_ancestry import acyclic_ancestry

__all__ = ["build_model", "detect_plane", "is_recorded_driver"]


def is_recorded_driver(properties: Mapping[str, Any] | None) -> bool:
    """True when the properties are a matched personality's copy (see the module rules)."""
    return properties is not None and PROVIDER_CLASS in properties and CLASS in properties


def build_model(root: DumpNode, *, source: str, plane: str | None = None,
                name: str | None = None, damage: DumpDamage | None = None) -> MachineModel:
    """The machine model of a dump whose registry root is ``root``.

    :param plane: the plane the dump shows; None detects it (:func:`detect_plane`).
    :param name: the model's short name; default: the platform device's name, lower-cased.
    :param damage: the damage met reading the dump, continued here and kept as the model's
        diagnostics; None refuses any damage (strict).
    """
    damage = damage if damage is not None else DumpDamage(source, strict=True)
    extra = fold_occurrences(root, damage)  # may fold the root's only child into the root
    if not root.children:
        raise IoregDumpInvalid("the registry root has no entries below it", file=source,
                               key=f"line {root.line}",
                               hint="dump a whole plane (ioreg -lw0), not a single entry")
    plane = plane or detect_plane(root)
    platform_node = root.children[0]
    entries: tuple[NubSpec, ...] = ()
    if plane == SERVICE_PLANE:
        for beside in root.children[1:]:
            damage.note(BAD_ENTRY, beside.line, f"{quoted(beside.name)} sits beside the platform "
                        f"entry {quoted(platform_node.name)} under Root")
            damage.lose(BAD_ENTRY, _count_below(beside))
        _lift_resources(platform_node, damage)
        top, nubs, drivers = _build_specs(platform_node, extra)
    else:
        top, entries = plane_entries(root, plane)
        nubs = sum(1 for _ in top.walk()) + len(entries)
        drivers = sum(1 for _, nub in top.walk() if nub.recorded_driver)
    classes = _collect_ancestry(root, damage)
    platform = platform_name(platform_node) if top.id != "platform" else _stem(source)
    return MachineModel(
        name=name or platform.lower(),
        description=f"{platform} from an ioreg dump of the {plane} plane "
                    f"({nubs} entries, {drivers} recorded drivers)",
        root=top,
        classes=classes,
        planes=() if plane in STANDARD_PLANES else (plane,),
        source=source,
        root_properties=dict(root.properties or {}),
        diagnostics=damage.diagnostics(),
        entries=entries,
    )


def _lift_resources(platform: DumpNode, damage: DumpDamage) -> None:
    """Move each IOResources printed deeper than the platform entry's children back under
    the platform entry (see the module rules)."""
    misplaced: list[tuple[DumpNode, DumpNode]] = []
    stack = [child for child in platform.children if child.class_name != RESOURCES_CLASS]
    while stack:  # (iterative: a dump's tree may be deep)
        parent = stack.pop()
        for child in parent.children:
            if child.class_name == RESOURCES_CLASS:
                misplaced.append((parent, child))
            else:
                stack.append(child)
    for parent, resources in misplaced:
        parent.children.remove(resources)
        platform.children.append(resources)
        damage.note(MISPLACED_RESOURCES, resources.line, f"{quoted(resources.name)} under "
                    f"{quoted(parent.name)} ({parent.class_name})")


def _stem(source: str) -> str:
    """A name for a machine whose dump shows no platform device: its file's name."""
    return PurePath(source).stem or "machine"


def _build_specs(top: DumpNode, extra: dict[int, list[str]]) -> tuple[NubSpec, int, int]:
    """The IOService plane's NubSpec tree of ``top``, built bottom-up without recursion, with
    how many nubs it holds and how many of them are recorded drivers."""
    order = [top]  # breadth first: a parent before its children, which lie side by side
    first_child: list[int] = []  # where each node's children start in order
    for node in order:
        first_child.append(len(order))
        order.extend(node.children)
    ids = [node_id(node) for node in order]
    present = set(ids) if extra else set()
    specs: list[Any] = [None] * len(order)
    drivers = 0
    for index in range(len(order) - 1, -1, -1):  # every child before its parent
        node = order[index]
        properties = node.properties
        links: tuple[PlaneLink, ...] = ()
        if extra and node.entry_id in extra:
            # A re-print under an entry that is not in the model (one beside the platform
            # entry, dropped) names no parent the model has.
            links = tuple(PlaneLink(plane=SERVICE_PLANE, parent=parent)
                          for parent in extra[node.entry_id] if parent in present)
        driver = is_recorded_driver(properties) if properties else False
        drivers += driver
        count = len(node.children)
        start = first_child[index]
        name, class_name = node.name, node.class_name
        specs[index] = imported_nub(  # (half the cost of NubSpec(...): once per entry)
            class_name, None if name == class_name else name, node.location,
            dict(properties) if properties else {},
            tuple(specs[start:start + count]) if count else (), ids[index], links, driver)
    return specs[0], len(order), drivers


def _count_below(node: DumpNode) -> int:
    count, stack = 0, list(node.children)
    while stack:
        count += 1
        stack.extend(stack.pop().children)
    return count


def _collect_ancestry(root: DumpNode, damage: DumpDamage) -> dict[str, str]:
    """The recorded chains as the machine's ancestry; a link that would make a class its own
    ancestor (a chain naming a class twice) or a chain longer than any IOKit's is left out
    and noted."""
    links: list[tuple[str, str, int]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.inheritance:  # only ``ioreg -i`` prints a chain
            links.extend((child, parent, node.line)
                         for child, parent in pairwise(node.inheritance))
        stack.extend(node.children)
    classes, refused = acyclic_ancestry((child, parent) for child, parent, _ in links)
    if refused:
        lines = {(child, parent): line for child, parent, line in reversed(links)}
        for child, parent, why in refused:
            damage.note(BAD_CLASS_CHAIN, lines[child, parent], f"{child} : {parent} {why}")
    return classes
