"""Building a machine into a host's registry: what the platform expert and bus drivers do at boot
(``IOPlatformExpert::start`` publishing ACPI nubs, ``IOPCIBridge::publishNubs``, ``setPlatform``).

``populate(host, model)`` creates one entry per :class:`NubSpec` with the class the host's class
registry resolves, links it in the IOService plane in model order and into every extra plane the
model names, and places IOResources under the platform-expert device. Nodes recorded as drivers
are marked registered and matched (they were bound on the Mac) and hold their ``IOMatchCategory``
(``IODefaultMatchCategory`` when the record lacks it, as ``probeCandidates`` sets it); the other
nubs come back in tree order for the kernel to register and match. A recorded state
(:class:`EntryRecord`, from an archive) is restored on what the kernel will not register: the
recorded drivers, nubs recorded ``!registered`` and the entries outside the IOService plane
(``MachineModel.entries``), which are linked into their planes only. Links into other planes
are made in their recorded order, so each plane's children print as the machine had them,
except IOPower when a kernel boots the machine: its power manager builds the live IOPower
plane from the recorded ``IOPowerManagement`` (``power.standins``), and the recorded links
(an archive's power connections) would stand beside it as a stale second tree. The model keeps
them (``iokit machine import`` writes them).
"""

from __future__ import annotations

from typing import Any, Protocol

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.keys import (
    DEFAULT_MATCH_CATEGORY,
    MATCH_CATEGORY,
    POWER_PLANE,
    RESOURCES_CLASS,
    SERVICE_PLANE,
)
from iokit_sdk.service import IOService, ServiceState
from iokit_sdk.values import PropertyTypeError

from iokit_host.errors import quoted
from iokit_host.machine import errors as E
from iokit_host.machine.bootable import LOOP_HINT, check_bootable, nub_where
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.model import EntryRecord, MachineModel, NubSpec
from iokit_host.machine.nodes import node_path, nub_label
from iokit_host.matching.classes import ClassRegistry
from iokit_host.registry import IORegistry, RegistryError

__all__ = ["STANDARD_RESOURCES", "populate"]

#: Resources IOKit itself publishes on IOResources before drivers match (IOService.cpp
#: ``initialize`` publishes ``IOKit``; BSD publishes ``IOBSD`` once it can mount root).
STANDARD_RESOURCES: tuple[tuple[str, str], ...] = (("IOKit", "IOService"), ("IOBSD", "IOService"))

_RECORDED_STATE = ServiceState.REGISTERED | ServiceState.MATCHED


class _Host(Protocol):
    classes: ClassRegistry
    registry: IORegistry


def populate(host: _Host, model: MachineModel) -> list[IOService]:
    """Build ``model`` into ``host.registry``; return its nubs (not recorded drivers) in tree order.

    :raises MachineModelError: for a model the registry cannot hold (a root that is not an
        IOService, a plane link that loops, a value that is not a property value): a model
        made in code or imported skips the file format's checks, but not those
        :func:`~iokit_host.machine.bootable.check_bootable` makes.
    """
    try:
        return _populate(host, model)
    except PropertyTypeError as error:
        raise MachineModelError(str(error), reference=E.BAD_VALUE, file=model.source,
                                hint=_VALUE_HINT) from None
    except RegistryError as error:
        raise MachineModelError(error.diagnostic.message, reference=E.STRUCTURE,
                                file=model.source, hint=error.diagnostic.hint) from None


def _populate(host: _Host, model: MachineModel) -> list[IOService]:
    # What the file format refuses, refused here too: booting a model and importing it
    # (written and read back) agree.
    check_bootable(model)
    registry = host.registry
    for plane in model.planes:
        registry.make_plane(plane)
    # The machine's own ancestry wins over the public tables, whose choice among releases
    # follows the OS build its root records.
    host.classes.use_machine(model.classes, model.root_properties, model.source)
    for key, value in model.root_properties.items():
        try:
            registry.root.set_property(key, value)
        except PropertyTypeError as error:
            raise _bad_value(model, error, None, "root-properties") from None
    builder = _Builder(host, getattr(host, "kernel", None), model)
    builder.recorded = dict(model.classes)
    root = builder.build(model.root, registry.root)
    for spec in model.entries:
        builder.make(spec, in_service=False)
    if not any(isinstance(child, IOService) and child.meta_cast(RESOURCES_CLASS)
               for child in root.get_child_entries(SERVICE_PLANE)):
        builder.add_resources(root)
    builder.link_planes()
    return builder.nubs


class _Builder:
    def __init__(self, host: _Host, kernel: Any, model: MachineModel) -> None:
        self.model = model
        self.source = model.source
        self.classes = host.classes
        self.registry = host.registry
        self.kernel = kernel
        self.nubs: list[IOService] = []
        self.by_id: dict[str, IORegistryEntry] = {}
        self.pending_links: list[tuple[IORegistryEntry, NubSpec]] = []
        self.recorded: dict[str, str] = {}
        self.stand_ins: dict[str, type[IORegistryEntry]] = {}

    def build(self, root_spec: NubSpec, registry_root: IORegistryEntry) -> IORegistryEntry:
        root = self.make(root_spec)
        if not isinstance(root, IOService):
            # The platform-expert device is an IOService (getPlatform); IOKit cannot boot
            # without one, and nothing could match under a plain registry entry.
            raise MachineModelError(
                f"the root nub's class {root_spec.class_name} is not an IOService",
                reference=E.ROOT_NOT_SERVICE, file=self.source,
                node=nub_label(0, node_path([root_spec])), key="class",
                hint="the first nub is the platform-expert device: use "
                     "IOPlatformExpertDevice or another IOService subclass")
        self.registry.attach(root, registry_root, SERVICE_PLANE)
        # Explicit stack, not recursion: imported dumps nest deeper than Python's limit allows.
        stack: list[tuple[IORegistryEntry, NubSpec]] = [
            (root, child) for child in reversed(root_spec.children)]
        while stack:
            parent, spec = stack.pop()
            entry = self.make(spec)
            self.registry.attach(entry, parent, SERVICE_PLANE)
            stack.extend((entry, child) for child in reversed(spec.children))
        return root

    def make(self, spec: NubSpec, *, in_service: bool = True) -> IORegistryEntry:
        cls = self.classes.resolve(spec.class_name, default_super="IOService")
        if spec.record is not None and not (in_service and not spec.recorded_driver
                                            and spec.record.registered):
            cls = self.as_recorded(cls, spec.class_name)
        try:
            entry = _instantiate(cls, spec)
        except PropertyTypeError as error:  # a model made in code: named as its file would be
            raise _bad_value(self.model, error, nub_where(self.model, spec)) from None
        if isinstance(entry, IOService):
            entry._kernel = self.kernel
            if spec.recorded_driver:
                entry._state = _RECORDED_STATE
                # probeCandidates sets the category on every instance it creates, so a driver
                # macOS bound holds one even when the record lost the key (a hand-written
                # model, a trimmed dump): without it a second driver would bind beside it.
                if not entry.has_property(MATCH_CATEGORY):
                    entry.set_property(MATCH_CATEGORY, DEFAULT_MATCH_CATEGORY)
            booted = in_service and not spec.recorded_driver and (
                spec.record is None or spec.record.registered)
            if booted:
                self.nubs.append(entry)
            elif spec.record is not None:
                _restore(entry, spec.record)
        if spec.id is not None:
            self.by_id[spec.id] = entry
        if spec.planes:
            self.pending_links.append((entry, spec))
        return entry

    def as_recorded(self, cls: type[IORegistryEntry], name: str) -> type[IORegistryEntry]:
        """For a snapshot the kernel will not run: a stand-in with the superclass the machine
        recorded when the host's own class of that name has another (the host's root-domain
        user client is an ``IOUserClient2022``; a 10.8 Mac's was an ``IOUserClient``), so
        ``ioreg -i`` prints the chain the machine had."""
        recorded = self.recorded.get(name)
        if recorded is None or getattr(cls, "synthesised", False) or \
                cls.class_chain[1:2] == (recorded,) or recorded == name:
            return cls
        if name not in self.stand_ins:
            base = self.classes.resolve(recorded, default_super="IOService")
            self.stand_ins[name] = type(cls.__name__, (base,), {
                "__slots__": (), "synthesised": True, "iokit_class_name": name})
        return self.stand_ins[name]

    def add_resources(self, root: IORegistryEntry) -> None:
        cls = self.classes.resolve(RESOURCES_CLASS)
        resources = cls(dict(STANDARD_RESOURCES))
        if isinstance(resources, IOService):
            resources._kernel = self.kernel
            self.nubs.append(resources)
        self.registry.attach(resources, root, SERVICE_PLANE)

    def link_planes(self) -> None:
        live_power = self.kernel is not None and getattr(self.kernel, "power", None) is not None
        links = [(entry, spec, number, link) for entry, spec in self.pending_links
                 for number, link in enumerate(spec.planes)
                 if not (live_power and link.plane == POWER_PLANE)]
        # Attaching appends to the parent's children, so recorded positions go first, in
        # order (a stable sort keeps the model's order for links that record none).
        links.sort(key=lambda item: -1 if item[3].order is None else item[3].order)
        for entry, spec, number, link in links:
            self.registry.make_plane(link.plane)
            parent = self.registry.root if link.parent is None else self.by_id.get(link.parent)
            if parent is None:
                raise MachineModelError(
                    f"a {link.plane} link names parent {quoted(link.parent)}, which no entry has "
                    "as its id", reference=E.UNKNOWN_ID, file=self.source,
                    node=nub_where(self.model, spec), key=f"planes[{number}].parent")
            try:
                self.registry.attach(entry, parent, link.plane)
            except RegistryError:  # a loop (planes are made): the registry names entries
                raise MachineModelError(
                    f"this link makes a loop in plane {link.plane}: the nub would sit below "
                    "itself", reference=E.STRUCTURE, file=self.source,
                    node=nub_where(self.model, spec), key=f"planes[{number}].parent",
                    hint=LOOP_HINT) from None
            if link.name is not None:
                entry.set_name(link.name, plane=link.plane)
            if link.location is not None:
                entry.set_location(link.location, plane=link.plane)


def _bad_value(model: MachineModel, error: PropertyTypeError, node: str | None,
               table: str = "properties") -> MachineModelError:
    """A property value the registry refuses, at its key, as the file reader names it."""
    reason = str(error).removeprefix(f"{error.path}: ")
    return MachineModelError(reason, reference=E.BAD_VALUE, file=model.source, node=node,
                             key=f"{table}.{error.path}", hint=_VALUE_HINT)


_VALUE_HINT = ("property values are strings, numbers, booleans, data, arrays, dictionaries "
               "and sets")


def _restore(entry: IOService, record: EntryRecord) -> None:
    """The recorded state of an entry the kernel will not register (see the module doc)."""
    state = ServiceState.REGISTERED if record.registered else 0
    state |= ServiceState.MATCHED if record.matched else 0
    entry._state = state | (0 if record.active else ServiceState.INACTIVE)
    entry._busy = record.busy


def _instantiate(cls: type[IORegistryEntry], spec: NubSpec) -> IORegistryEntry:
    """An entry of ``cls`` holding the record's properties.

    A record names the class macOS had, and the host may implement that class itself with a
    constructor of its own (the root domain's user client takes its owner, say). A record is a
    snapshot, not a working object, so a plain entry of the same name stands in; a bad
    property value still fails, in the stand-in's constructor."""
    try:
        return cls(spec.properties, name=spec.name, location=spec.location)
    except TypeError as error:
        if isinstance(error, PropertyTypeError):
            raise
    base = IOService if issubclass(cls, IOService) else IORegistryEntry
    stand_in = type(cls.__name__, (base,), {"__slots__": (), "synthesised": True,
                                            "iokit_class_name": spec.class_name})
    entry: IORegistryEntry = stand_in(spec.properties, name=spec.name, location=spec.location)
    return entry

