"""Machine models: the hardware tree a host boots, as value objects (a Mac's nubs before matching).

On a Mac the platform expert and the bus drivers publish the nubs (``IOPCIDevice``,
``IOUSBHostDevice``, ...) that drivers then match. A :class:`MachineModel` describes those nubs
directly: the platform-expert device at the root of the IOService plane, the nubs below it with
their classes, names, locations and typed properties, extra plane links (IODeviceTree, IOACPIPlane,
or any plane the model names) and the superclasses of classes the host does not know.

Nodes imported from a real ``ioreg`` dump that were *drivers* on the Mac are kept with
``recorded_driver=True``: a record of what macOS bound, with the personality it matched in its
properties. A snapshot that records more (an IORegistryExplorer archive) keeps each entry's
state, busy count and owning bundle as an :class:`EntryRecord`, and the entries that are in no
IOService position (device-tree nodes, ACPI objects, power connections) as
``MachineModel.entries``, linked only through their planes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from iokit_host.errors import Diagnostic

__all__ = ["EntryRecord", "MachineModel", "NubSpec", "PlaneLink", "imported_nub"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class PlaneLink:
    """A link of a nub into a plane other than IOService.

    :param plane: the plane's name.
    :param parent: the model ``id`` of the parent nub there, or None for the plane's root
        (attached directly under the registry root).
    :param name: the nub's name in that plane, when it differs from its global name.
    :param location: the nub's location in that plane.
    :param order: the nub's place among its parent's children there (0 first), when the
        source recorded it; links are made in that order, so the plane prints as recorded.
    """

    plane: str
    parent: str | None = None
    name: str | None = None
    location: str | None = None
    order: int | None = None


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """What a registry snapshot recorded about an entry beside its properties (the
    ``IOServiceGetState``/``getBusyState`` an IORegistryExplorer archive or ``ioreg -a`` keeps,
    and the kext that owns its class).

    :param registered: ``registerService`` had run; a nub recorded ``!registered`` is not
        registered at boot either, so nothing matches on it.
    :param matched: matching had run on it.
    :param active: not terminated.
    :param busy: its busy count.
    :param bundle_id: the bundle owning its class (``com.apple.iokit.IOPCIFamily``).
    """

    registered: bool = True
    matched: bool = True
    active: bool = True
    busy: int = 0
    bundle_id: str | None = None


@dataclass(frozen=True, slots=True)
class NubSpec:
    """One nub (or recorded driver) and its subtree in the IOService plane.

    :param class_name: IOKit class, e.g. ``IOPCIDevice``.
    :param name: global name (``IOName``); None shows the class name, as IOKit does.
    :param location: global location (``PCI0@0`` has location ``0``).
    :param properties: typed property values (see ``iokit_sdk.values``).
    :param children: nubs below this one in the IOService plane, in order.
    :param id: model-local id, so other planes' links can name this nub as parent.
    :param planes: links into other planes.
    :param recorded_driver: True for a driver node kept from a real dump (not a nub).
    :param record: the entry's recorded state, when the source kept it.
    """

    class_name: str
    name: str | None = None
    location: str | None = None
    properties: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    children: tuple[NubSpec, ...] = ()
    id: str | None = None
    planes: tuple[PlaneLink, ...] = ()
    recorded_driver: bool = False
    record: EntryRecord | None = None

    def walk(self, depth: int = 0) -> Iterator[tuple[int, NubSpec]]:
        """Depth-first ``(depth, nub)`` pairs, this nub first.

        Iterative: a model may nest thousands of nubs deep (a chain of bridges, an import).
        """
        stack: list[tuple[int, NubSpec]] = [(depth, self)]
        while stack:
            level, nub = stack.pop()
            yield level, nub
            stack.extend((level + 1, child) for child in reversed(nub.children))

    def __eq__(self, other: object) -> bool:
        # Field by field, subtrees on an explicit stack: the generated __eq__ recurses.
        if not isinstance(other, NubSpec):
            return NotImplemented
        pending: list[tuple[NubSpec, NubSpec]] = [(self, other)]
        while pending:
            a, b = pending.pop()
            if a is b:
                continue
            if _own_fields(a) != _own_fields(b) or len(a.children) != len(b.children):
                return False
            pending.extend(zip(a.children, b.children))
        return True

    def __hash__(self) -> int:
        return hash(_own_fields(self)[:3])

    def __repr__(self) -> str:
        # Children by count only: a deep tree's nested repr would recurse without end in sight.
        return (f"NubSpec(class_name={self.class_name!r}, name={self.name!r}, "
                f"location={self.location!r}, id={self.id!r}, "
                f"children=<{len(self.children)}>)")


# A reader of a real registry (an ioreg dump: thousands of entries) makes a NubSpec per entry,
# and a frozen dataclass's __init__ sets each field through object.__setattr__: setting the
# slots directly, as copy and pickle make an instance, costs half as much. Every field is
# set (a field added to NubSpec must be added here: the names are checked below).
_NUB_SLOTS = {spec.name: NubSpec.__dict__[spec.name].__set__ for spec in fields(NubSpec)}
(_set_class_name, _set_name, _set_location, _set_properties, _set_children, _set_id,
 _set_planes, _set_recorded_driver, _set_record) = (
    _NUB_SLOTS.pop(name) for name in ("class_name", "name", "location", "properties", "children",
                                      "id", "planes", "recorded_driver", "record"))
if _NUB_SLOTS:
    raise TypeError(f"imported_nub does not set the NubSpec fields {sorted(_NUB_SLOTS)}")


def imported_nub(class_name: str, name: str | None, location: str | None,
                 properties: Mapping[str, Any], children: tuple[NubSpec, ...], id: str | None,
                 planes: tuple[PlaneLink, ...], recorded_driver: bool) -> NubSpec:
    """``NubSpec(class_name, name, location, properties, children, id, planes,
    recorded_driver)`` (no ``record``), made at half the cost (see above)."""
    nub: NubSpec = object.__new__(NubSpec)
    _set_class_name(nub, class_name)
    _set_name(nub, name)
    _set_location(nub, location)
    _set_properties(nub, properties)
    _set_children(nub, children)
    _set_id(nub, id)
    _set_planes(nub, planes)
    _set_recorded_driver(nub, recorded_driver)
    _set_record(nub, None)
    return nub


def _own_fields(nub: NubSpec) -> tuple[Any, ...]:
    return (nub.class_name, nub.name, nub.location, dict(nub.properties), nub.id, nub.planes,
            nub.recorded_driver, nub.record)


@dataclass(frozen=True, slots=True)
class MachineModel:
    """A machine to boot.

    :param name: short name (``default``, ``macbookpro8,2``) used by ``--machine``.
    :param description: one line for ``iokit machine list``.
    :param root: the platform-expert device, root of the IOService plane.
    :param classes: the machine's own class ancestry (name -> superclass): chains it recorded
        (``ioreg -i``, an IORegistryExplorer archive's ``inheritance``) or its model declares.
        It wins over the host's tables, which choose among releases by the OS build
        ``root_properties`` record (``OS Build Version``, ``IOKitBuildVersion``).
    :param planes: planes beyond IOService, IOPower and IODeviceTree.
    :param source: the file it was read from, for diagnostics.
    :param root_properties: properties of the registry root (``Root``).
    :param diagnostics: warnings about what reading the source tolerated (a damaged ioreg
        dump's redacted values, cut tail, ...); not part of the machine, so not compared.
    :param entries: registry entries in no IOService position (device-tree nodes, ACPI
        objects, power connections), each linked only through its ``planes``; they have no
        children of their own and the kernel never registers or matches them.
    """

    name: str
    description: str
    root: NubSpec
    classes: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    planes: tuple[str, ...] = ()
    source: str | None = None
    root_properties: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    diagnostics: tuple[Diagnostic, ...] = field(default=(), compare=False)
    entries: tuple[NubSpec, ...] = ()

    def nubs(self) -> Iterator[tuple[int, NubSpec]]:
        return self.root.walk()
