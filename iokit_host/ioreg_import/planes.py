"""Which plane a dump shows, and a dump of a plane other than IOService as a machine
(``ioreg -p IODeviceTree``, ``-p IOUSB``, ``-p IOPower``, ``-p IOACPIPlane``, ``-p IOFireWire``).

There is no IOKit counterpart; ioreg prints no plane name, so the plane is told by what each
plane's top looks like in every generation:

- **IODeviceTree**: one child of Root, the device-tree root, named ``/`` (EFI Macs) or
  ``device-tree`` (Open Firmware on PowerPC, Apple silicon), or holding the nodes only a device
  tree has (``chosen``, ``options``, ``aliases``) and no ``IOResources``, which every IOService
  plane has there;
- **IOPower**: one child of Root, of class ``IORootParent`` (the power tree's root);
- **IOACPIPlane**: one child of Root, the platform device, named ``acpi`` in that plane;
- **IOUSB**, **IOFireWire**: Root's children are all USB (or all FireWire) devices and
  controllers, no platform device among them;
- otherwise **IOService**.

A dump of another plane says nothing of the IOService plane. When the plane's top is the
platform device (IODeviceTree, IOACPIPlane) it becomes the model's root nub, named as the
platform (its ``model``) and as printed in that plane; otherwise (IOUSB, IOPower, IOFireWire)
a bare ``IOPlatformExpertDevice`` stands in as the root. Every other entry is kept in
``MachineModel.entries``, linked only into that plane in printed order: nothing is matched on
them, as on the Mac the bus drivers, not the dump, decide which nodes become nubs. (An
IOPower dump's entries print only from the model: a booted host's IOPower plane is its own
power manager's, see :mod:`iokit_host.machine.build`.)
"""

from __future__ import annotations

from itertools import repeat

from iokit_sdk.keys import ACPI_PLANE, DEVICE_TREE_PLANE, POWER_PLANE, SERVICE_PLANE, USB_PLANE

from iokit_host.ioreg_import.occurrences import node_id
from iokit_host.ioreg_import.tree import DumpNode
from iokit_host.machine.model import NubSpec, PlaneLink, imported_nub

__all__ = ["DEVICE_TREE_ROOT_NAMES", "FIREWIRE_PLANE", "detect_plane", "plane_entries",
           "platform_name"]

#: The device-tree root's name in IODeviceTree: ``/`` on EFI Macs, ``device-tree`` in Open
#: Firmware (PowerPC) and on Apple silicon.
DEVICE_TREE_ROOT_NAMES = frozenset({"/", "device-tree"})
FIREWIRE_PLANE = "IOFireWire"
_DEVICE_TREE_ONLY = frozenset({"chosen", "options", "aliases"})
_PLATFORM_CLASS = "IOPlatformExpertDevice"


def detect_plane(root: DumpNode) -> str:
    """The plane a dump whose registry root is ``root`` shows (see the module doc)."""
    tops = root.children
    if len(tops) == 1:
        top = tops[0]
        if top.name in DEVICE_TREE_ROOT_NAMES:
            return DEVICE_TREE_PLANE
        names = {child.name for child in top.children}
        if names & _DEVICE_TREE_ONLY and not any(child.class_name == "IOResources"
                                                 for child in top.children):
            return DEVICE_TREE_PLANE
        if top.class_name == "IORootParent":
            return POWER_PLANE
        if top.name == "acpi" and top.class_name == _PLATFORM_CLASS:
            return ACPI_PLANE
    if tops and not any(top.class_name == _PLATFORM_CLASS for top in tops):
        if all("USB" in top.class_name for top in tops):
            return USB_PLANE
        if all("FireWire" in top.class_name or "FWOHCI" in top.class_name for top in tops):
            return FIREWIRE_PLANE
    return SERVICE_PLANE


def platform_name(node: DumpNode) -> str:
    """The platform device's name; in the device-tree plane (``/``, ``device-tree``) its
    ``model`` property."""
    model = (node.properties or {}).get("model")
    if node.name in DEVICE_TREE_ROOT_NAMES and isinstance(model, bytes) and model.strip(b"\0"):
        return model.split(b"\0")[0].decode("utf-8", errors="replace")
    return node.name


def plane_entries(root: DumpNode, plane: str) -> tuple[NubSpec, tuple[NubSpec, ...]]:
    """The root nub and the other entries of a dump of ``plane`` (see the module doc)."""
    tops = root.children
    stack: list[tuple[DumpNode, str | None, int]]
    if len(tops) == 1 and tops[0].class_name == _PLATFORM_CLASS:
        top = tops[0]
        shown = platform_name(top)
        nub = NubSpec(class_name=top.class_name, name=None if shown == top.class_name else shown,
                      location=top.location, properties=dict(top.properties or {}),
                      id=node_id(top),
                      planes=(PlaneLink(plane=plane, name=top.name if top.name != shown
                                        else None),))
        stack = [(child, node_id(top), order) for order, child in enumerate(top.children)]
    else:
        nub = NubSpec(class_name=_PLATFORM_CLASS, id="platform")
        stack = [(top, None, order) for order, top in enumerate(tops)]
    stack.reverse()
    entries: list[NubSpec] = []
    while stack:
        node, parent, order = stack.pop()
        own = node_id(node)
        properties = node.properties
        entries.append(imported_nub(  # (half the cost of NubSpec(...): once per entry)
            node.class_name, None if node.name == node.class_name else node.name,
            node.location, dict(properties) if properties else {}, (), own,
            (PlaneLink(plane, parent, None, None, order),), False))
        if node.children:
            stack.extend(zip(reversed(node.children), repeat(own),
                             range(len(node.children) - 1, -1, -1)))
    return nub, tuple(entries)
