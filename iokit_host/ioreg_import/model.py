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

**Planes.** A dump shows one plane. It is IODeviceTree when the caller says so, or when the
registry root's only child is named ``/`` (the device-tree root's name in that plane); otherwise
IOService. For an IODeviceTree dump the nub tree mirrors the device tree and every nub also
carries a :class:`PlaneLink` into IODeviceTree with its parent there.

**Several parents.** An entry with several IOService parents (IOHIDSystem under every HID
event driver, IONetworkStack under every interface) is printed, with its subtree, under each
of them, with the same id. The first printed occurrence becomes the nub; each later one adds
a :class:`PlaneLink` into IOService naming that parent, and its reprinted subtree is skipped.
The dump does not say which parent came first (the provider), so the order is print order.

**Class ancestry.** Only ``ioreg -i`` prints it (``IORegistryEntry:IOService:IOPCIDevice``);
those chains become ``MachineModel.classes``. Without ``-i`` nothing is inferred: the host's
built-in table of standard family classes supplies the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from iokit_sdk.keys import CLASS, DEVICE_TREE_PLANE, PROVIDER_CLASS, SERVICE_PLANE

from iokit_host.ioreg_import.tree import DumpNode
from iokit_host.machine.model import MachineModel, NubSpec, PlaneLink

__all__ = ["build_model", "detect_plane", "is_recorded_driver"]


def is_recorded_driver(properties: Mapping[str, Any] | None) -> bool:
    """True when the properties are a matched personality's copy (see the module rules)."""
    return properties is not None and PROVIDER_CLASS in properties and CLASS in properties


def detect_plane(root: DumpNode) -> str:
    """IODeviceTree when the root's only child is the device-tree root ``/``, else IOService."""
    if len(root.children) == 1 and root.children[0].name == "/":
        return DEVICE_TREE_PLANE
    return SERVICE_PLANE


def build_model(root: DumpNode, *, source: str, plane: str | None = None,
                name: str | None = None) -> MachineModel:
    """The machine model of a dump whose registry root is ``root``.

    :param plane: the plane the dump shows; None detects it (:func:`detect_plane`).
    :param name: the model's short name; default: the platform device's name, lower-cased.
    """
    plane = plane or detect_plane(root)
    if not root.children:
        from iokit_host.ioreg_import.errors import IoregDumpInvalid

        raise IoregDumpInvalid("the registry root has no entries below it", file=source,
                               key=f"line {root.line}",
                               hint="dump a whole plane (ioreg -lw0), not a single entry")
    classes: dict[str, str] = {}
    extra = _extra_parents(root.children[0]) if plane == SERVICE_PLANE else {}
    top = _Specs(plane, extra).spec(root.children[0], None)
    _collect_ancestry(root, classes)
    nubs = sum(1 for _ in top.walk())
    drivers = sum(1 for _, nub in top.walk() if nub.recorded_driver)
    platform = _platform_name(root.children[0])
    return MachineModel(
        name=name or platform.lower(),
        description=f"{platform} from an ioreg dump of the {plane} plane "
                    f"({nubs} entries, {drivers} recorded drivers)",
        root=top,
        classes=classes,
        planes=(),
        source=source,
        root_properties=dict(root.properties or {}),
    )


def _platform_name(node: DumpNode) -> str:
    """The platform device's name; in the device-tree plane (``/``) its ``model`` property."""
    model = (node.properties or {}).get("model")
    if node.name == "/" and isinstance(model, bytes) and model.strip(b"\0"):
        return model.split(b"\0")[0].decode("utf-8", errors="replace")
    return node.name


def _node_id(node: DumpNode) -> str:
    return f"0x{node.entry_id:x}" if node.entry_id is not None else f"line-{node.line}"


def _extra_parents(top: DumpNode) -> dict[int, list[str]]:
    """Entry id -> ids of the parents of its later printed occurrences (print order)."""
    seen: set[int] = set()
    extra: dict[int, list[str]] = {}
    stack: list[tuple[DumpNode, DumpNode | None]] = [(top, None)]
    while stack:
        node, parent = stack.pop()
        if node.entry_id is not None and node.entry_id in seen:
            if parent is not None:
                extra.setdefault(node.entry_id, []).append(_node_id(parent))
            continue
        if node.entry_id is not None:
            seen.add(node.entry_id)
        stack.extend((child, node) for child in reversed(node.children))
    return extra


class _Specs:
    """Builds NubSpecs, skipping reprinted occurrences of multi-parent entries."""

    def __init__(self, plane: str, extra: dict[int, list[str]]) -> None:
        self.plane = plane
        self.extra = extra
        self.built: set[int] = set()

    def spec(self, node: DumpNode, parent_id: str | None) -> NubSpec:
        node_id = _node_id(node)
        if node.entry_id is not None:
            self.built.add(node.entry_id)
        links: tuple[PlaneLink, ...] = ()
        if self.plane != SERVICE_PLANE:
            links = (PlaneLink(plane=self.plane, parent=parent_id),)
        elif node.entry_id in self.extra:
            links = tuple(PlaneLink(plane=SERVICE_PLANE, parent=parent)
                          for parent in self.extra[node.entry_id])
        children = tuple(self.spec(child, node_id) for child in node.children
                         if child.entry_id is None or child.entry_id not in self.built)
        return NubSpec(
            class_name=node.class_name,
            name=None if node.name == node.class_name else node.name,
            location=node.location,
            properties=dict(node.properties or {}),
            children=children,
            id=node_id,
            planes=links,
            recorded_driver=self.plane == SERVICE_PLANE and is_recorded_driver(node.properties),
        )


def _collect_ancestry(root: DumpNode, classes: dict[str, str]) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        chain = node.inheritance
        for child, parent in pairwise(chain):
            classes.setdefault(child, parent)
        stack.extend(node.children)
