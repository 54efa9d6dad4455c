"""Registry paths: ``IOService:/AppleACPIPlatformExpert/PCI0@0/AppleACPIPCI`` (xnu ``getPath``, ``fromPath``).

A path is ``Plane:`` followed by ``/component`` for each ancestor below the plane root, down to
the entry; the plane root itself is ``Plane:/``. A component is ``name`` or ``name@location``.
Looking a path up selects, at each level, the first child whose name is the component's name
and, when the component has ``@loc``, whose location equals it compared as hex numbers
component by component (``matchPathLocation``: ``@01f,3`` finds ``1F,3``). A component of only
``@loc`` matches any name.
"""

from __future__ import annotations

import re

from iokit_sdk.entry import IORegistryEntry

from iokit_host.errors import IOKitError
from iokit_host.registry.registry import IORegistry

__all__ = ["PathError", "format_component", "from_path", "get_path", "locations_equal"]

_LOCATION_SPLIT = re.compile(r"[,:]")


class PathError(IOKitError):
    reference = "registry-path-invalid"


def format_component(entry: IORegistryEntry, plane: str) -> str:
    location = entry.get_location(plane)
    name = entry.get_name(plane)
    return f"{name}@{location}" if location else name


def get_path(registry: IORegistry, entry: IORegistryEntry, plane: str) -> str | None:
    """The entry's path in ``plane``, or None when it is not in the plane's tree."""
    plane_root = registry.plane_root(plane)
    if plane_root is None:
        return None
    components: list[str] = []
    node: IORegistryEntry | None = entry
    seen: set[int] = set()
    while node is not None and node is not plane_root:
        if id(node) in seen or node is registry.root:
            return None
        seen.add(id(node))
        components.append(format_component(node, plane))
        node = node.get_parent_entry(plane)
    if node is None:
        return None
    return f"{plane}:/" + "/".join(reversed(components))


def from_path(registry: IORegistry, path: str, plane: str | None = None) -> IORegistryEntry | None:
    """Resolve ``path`` (``fromPath``). ``plane`` is used when the path has no ``Plane:`` prefix.

    :raises PathError: when the path has no plane, or names a plane the registry lacks.
    """
    plane_name, rest = _split_plane(path, plane)
    if not registry.has_plane(plane_name):
        raise PathError(f"no plane named {plane_name!r}", key=path)
    node = registry.plane_root(plane_name)
    if node is None:
        return None
    for component in (c for c in rest.split("/") if c):
        node = _child_for_component(node, component, plane_name)
        if node is None:
            return None
    return node


def _split_plane(path: str, plane: str | None) -> tuple[str, str]:
    head, sep, tail = path.partition(":")
    if sep and "/" not in head and "@" not in head:
        return head, tail
    if plane is None:
        raise PathError(f"path {path!r} names no plane", key=path,
                        hint="write it as IOService:/... or pass the plane")
    return plane, path


def _child_for_component(node: IORegistryEntry, component: str, plane: str) -> IORegistryEntry | None:
    name, _, location = component.partition("@")
    for child in node.iter_child_entries(plane):
        if name and child.get_name(plane) != name:
            continue
        if location and not locations_equal(child.get_location(plane), location):
            continue
        return child
    return None


def locations_equal(actual: str | None, wanted: str) -> bool:
    """Compare locations as hex numbers component by component (``matchPathLocation``)."""
    if actual is None:
        return False
    a_parts = _LOCATION_SPLIT.split(actual)
    w_parts = _LOCATION_SPLIT.split(wanted)
    if len(a_parts) != len(w_parts):
        return False
    for a, w in zip(a_parts, w_parts):
        try:
            if int(a or "0", 16) != int(w or "0", 16):
                return False
        except ValueError:
            if a != w:
                return False
    return True
