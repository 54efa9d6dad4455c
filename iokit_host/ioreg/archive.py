"""``ioreg -a``: the registry as an XML property list (``ioreg.c`` archive mode).

Each entry is a dictionary of its properties (when shown: ``-l`` or matched) plus
``IORegistryEntryName``, ``IORegistryEntryLocation`` (when it has one),
``IORegistryEntryID``, ``IOObjectClass``, ``IOObjectInheritance`` (``-i``),
``IOObjectRetainCount``, for an IOService ``IOServiceState``, ``IOServiceBusyState`` and
``IOServiceBusyTime`` (ns), and ``IORegistryEntryChildren`` when it has shown children.
The top level is Root's dictionary, or with ``-r`` an array of the matched subtrees.

Values are what CoreFoundation holds in user space: numbers of up to 32 bits are SInt32
(a 32-bit 0xFFFFFFFF is written as -1), wider ones SInt64; sets become arrays. Keys are
written sorted, as CFPropertyListWrite's XML writer does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, BinaryIO

from iokit_sdk.entry import IORegistryEntry

from iokit_host.ioreg.format import cf_number, member_key, snapshot
from iokit_host.ioreg.node import inheritance, retain_count, service_facts
from iokit_host.ioreg.options import IoregOptions, check_plane
from iokit_host.ioreg.plisttext import dump, dumps
from iokit_host.ioreg.select import build_trees
from iokit_host.registry import IORegistry

__all__ = ["archive_value", "render_archive", "write_archive"]

CHILDREN = "IORegistryEntryChildren"


def render_archive(registry: IORegistry, options: IoregOptions | None = None) -> bytes:
    """The XML plist ``ioreg -a`` writes with ``options``.

    :raises UnknownPlaneError: when ``options.plane`` is not a plane of ``registry``.
    """
    return dumps(_document(registry, options))


def write_archive(registry: IORegistry, stream: BinaryIO,
                  options: IoregOptions | None = None) -> None:
    """:func:`render_archive` written to ``stream`` as it is made (a registry thousands of
    entries deep makes hundreds of megabytes of indented XML)."""
    dump(_document(registry, options), stream)


def _document(registry: IORegistry, options: IoregOptions | None) -> Any:
    options = options or IoregOptions()
    check_plane(registry, options.plane)
    trees = build_trees(registry, options, lambda entry: _node(entry, options), CHILDREN)
    # Written by plisttext, not plistlib, whose writer recurses: a deep registry exhausts it.
    return trees if options.root else trees[0]


def _node(entry: IORegistryEntry, options: IoregOptions) -> dict[str, Any]:
    node: dict[str, Any] = {}
    if options.shows_properties(entry):
        # A snapshot: a driver's own thread may set properties while they are archived.
        node.update((key, archive_value(value)) for key, value in entry.copy_properties().items())
    node["IORegistryEntryName"] = entry.get_name(options.plane)
    location = entry.get_location(options.plane)
    if location is not None:
        node["IORegistryEntryLocation"] = location
    entry_id = entry.get_registry_entry_id()
    if entry_id is not None:
        node["IORegistryEntryID"] = entry_id
    node["IOObjectClass"] = entry.class_name()
    if options.inheritance:
        node["IOObjectInheritance"] = list(inheritance(entry))
    node["IOObjectRetainCount"] = retain_count(entry)
    facts = service_facts(entry)
    if facts is not None:
        node["IOServiceState"] = facts.state
        node["IOServiceBusyState"] = facts.busy
        node["IOServiceBusyTime"] = facts.busy_time_ns
    return node


def archive_value(value: Any) -> Any:
    """A property value as CoreFoundation holds it, ready for a plist writer."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return cf_number(value)
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, Mapping):
        return {key: archive_value(item) for key, item in snapshot(value)}
    if isinstance(value, (frozenset, set)):
        # CFSet order is unspecified; sorting by printed form keeps the archive stable.
        return [archive_value(item) for item in sorted(value, key=member_key)]
    if isinstance(value, (list, tuple)):
        return [archive_value(item) for item in tuple(value)]
    return str(value)
