"""Building a machine into a host's registry: what the platform expert and bus drivers do at boot
(``IOPlatformExpert::start`` publishing ACPI nubs, ``IOPCIBridge::publishNubs``, ``setPlatform``).

``populate(host, model)`` creates one entry per :class:`NubSpec` with the class the host's class
registry resolves, links it in the IOService plane in model order and into every extra plane the
model names, and places IOResources under the platform-expert device. Nodes recorded as drivers
are marked registered and matched (they were bound on the Mac); the other nubs come back in tree
order for the kernel to register and match.
"""

from __future__ import annotations

from typing import Any, Protocol

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.keys import RESOURCES_CLASS, SERVICE_PLANE
from iokit_sdk.service import IOService, ServiceState

from iokit_host.machine.model import MachineModel, NubSpec
from iokit_host.matching.classes import ClassRegistry
from iokit_host.registry import IORegistry

__all__ = ["STANDARD_RESOURCES", "populate"]

#: Resources IOKit itself publishes on IOResources before drivers match (IOService.cpp
#: ``initialize`` publishes ``IOKit``; BSD publishes ``IOBSD`` once it can mount root).
STANDARD_RESOURCES: tuple[tuple[str, str], ...] = (("IOKit", "IOService"), ("IOBSD", "IOService"))

_RECORDED_STATE = ServiceState.REGISTERED | ServiceState.MATCHED


class _Host(Protocol):
    classes: ClassRegistry
    registry: IORegistry


def populate(host: _Host, model: MachineModel) -> list[IOService]:
    """Build ``model`` into ``host.registry``; return its nubs (not recorded drivers) in tree order."""
    registry = host.registry
    for plane in model.planes:
        registry.make_plane(plane)
    host.classes.declare(model.classes)
    for key, value in model.root_properties.items():
        registry.root.set_property(key, value)
    builder = _Builder(host, getattr(host, "kernel", None))
    root = builder.build(model.root, registry.root)
    if not any(isinstance(child, IOService) and child.meta_cast(RESOURCES_CLASS)
               for child in root.get_child_entries(SERVICE_PLANE)):
        builder.add_resources(root)
    builder.link_planes()
    return builder.nubs


class _Builder:
    def __init__(self, host: _Host, kernel: Any) -> None:
        self.classes = host.classes
        self.registry = host.registry
        self.kernel = kernel
        self.nubs: list[IOService] = []
        self.by_id: dict[str, IORegistryEntry] = {}
        self.pending_links: list[tuple[IORegistryEntry, NubSpec]] = []

    def build(self, root_spec: NubSpec, registry_root: IORegistryEntry) -> IORegistryEntry:
        root = self.make(root_spec)
        self.registry.attach(root, registry_root, SERVICE_PLANE)
        # Explicit stack, not recursion: imported dumps nest deeper than Python's limit allows.
        stack = [(root, child) for child in reversed(root_spec.children)]
        while stack:
            parent, spec = stack.pop()
            entry = self.make(spec)
            self.registry.attach(entry, parent, SERVICE_PLANE)
            stack.extend((entry, child) for child in reversed(spec.children))
        return root

    def make(self, spec: NubSpec) -> IORegistryEntry:
        cls = self.classes.resolve(spec.class_name, default_super="IOService")
        entry = cls(spec.properties, name=spec.name, location=spec.location)
        if isinstance(entry, IOService):
            entry._kernel = self.kernel
            if spec.recorded_driver:
                entry._state = _RECORDED_STATE
            else:
                self.nubs.append(entry)
        if spec.id is not None:
            self.by_id[spec.id] = entry
        if spec.planes:
            self.pending_links.append((entry, spec))
        return entry

    def add_resources(self, root: IORegistryEntry) -> None:
        cls = self.classes.resolve(RESOURCES_CLASS)
        resources = cls(dict(STANDARD_RESOURCES))
        if isinstance(resources, IOService):
            resources._kernel = self.kernel
            self.nubs.append(resources)
        self.registry.attach(resources, root, SERVICE_PLANE)

    def link_planes(self) -> None:
        for entry, spec in self.pending_links:
            for link in spec.planes:
                self.registry.make_plane(link.plane)
                parent = self.registry.root if link.parent is None else self.by_id[link.parent]
                self.registry.attach(entry, parent, link.plane)
                if link.name is not None:
                    entry.set_name(link.name, plane=link.plane)
                if link.location is not None:
                    entry.set_location(link.location, plane=link.plane)
