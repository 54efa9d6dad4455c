"""Writing small IORegistryExplorer archives for tests: ``RexRegistryEntry`` objects in an
``NSKeyedArchiver`` binary plist, laid out as IORegistryExplorer lays them out."""

from __future__ import annotations

import plistlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Entry", "archive_bytes", "small_machine"]


@dataclass
class Entry:
    """One entry; ``parents``: plane -> names of parent entries (in this list)."""

    name: str
    chain: list[str]
    parents: dict[str, list[str]] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    location: str | None = None
    plane_names: dict[str, str] = field(default_factory=dict)
    registered: bool = True
    busy: int = 0
    bundle: str = "com.apple.kernel"
    root: bool = False


def archive_bytes(entries: list[Entry], *, fmt: plistlib.PlistFormat = plistlib.FMT_BINARY
                  ) -> bytes:
    """The archive holding ``entries`` (the first is Root)."""
    objects: list[Any] = ["$null"]

    def add(value: Any) -> plistlib.UID:
        objects.append(value)
        return plistlib.UID(len(objects) - 1)

    array_class = add({"$classname": "NSArray", "$classes": ["NSArray", "NSObject"]})
    dict_class = add({"$classname": "NSDictionary", "$classes": ["NSDictionary", "NSObject"]})
    entry_class = add({"$classname": "RexRegistryEntry",
                       "$classes": ["RexRegistryEntry", "NSObject"]})
    store_class = add({"$classname": "RexDataStore", "$classes": ["RexDataStore", "NSObject"]})
    slots = {entry.name: add({}) for entry in entries}  # filled below: links need every UID
    children: dict[str, dict[str, list[str]]] = {}
    for entry in entries:
        for plane, parents in entry.parents.items():
            for parent in parents:
                children.setdefault(parent, {}).setdefault(plane, []).append(entry.name)

    def array(items: list[Any]) -> plistlib.UID:
        return add({"NS.objects": items, "$class": array_class})

    def mapping(table: dict[str, Any]) -> plistlib.UID:
        return add({"NS.keys": [add(k) for k in table], "NS.objects": list(table.values()),
                    "$class": dict_class})

    for entry in entries:
        links = {plane: array([slots[p] for p in parents])
                 for plane, parents in entry.parents.items()}
        kids = {plane: array([slots[c] for c in names])
                for plane, names in children.get(entry.name, {}).items()}
        record = {
            "$class": entry_class, "name": add(entry.name),
            "location": add(entry.location) if entry.location else plistlib.UID(0),
            "inheritance": array([add(c) for c in [*entry.chain, "OSObject"]]),
            "namesInPlanes": mapping({p: add(n) for p, n in entry.plane_names.items()}),
            "locationsInPlanes": mapping({}),
            "parentsInPlanes": mapping(links), "childrenInPlanes": mapping(kids),
            "bundleID": add(entry.bundle), "busyCount": entry.busy,
            "isRegistered": entry.registered, "isMatched": entry.registered,
            "isActive": True, "isRegistryRoot": entry.root,
            "properties": add(plistlib.dumps(entry.properties, fmt=plistlib.FMT_XML)),
        }
        objects[slots[entry.name].data] = record
    store = add({"$class": store_class, "registryEntries": array(list(slots.values())),
                 "dataStoreVersion": 1})
    document = {"$archiver": "NSKeyedArchiver", "$version": 100000, "$top": {"root": store},
                "$objects": objects}
    if fmt == plistlib.FMT_XML:  # XML has no UID type: CoreFoundation writes {"CF$UID": n}
        document = _xml_refs(document)
    return plistlib.dumps(document, fmt=fmt)


def _xml_refs(value: Any) -> Any:
    if isinstance(value, plistlib.UID):
        return {"CF$UID": value.data}
    if isinstance(value, dict):
        return {key: _xml_refs(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_xml_refs(item) for item in value]
    return value


def small_machine() -> list[Entry]:
    """Root, a platform device with a PCI nub and its recorded driver, a device-tree node only
    in IODeviceTree, and an IOUSB plane link."""
    service, dt = "IOService", "IODeviceTree"
    return [
        Entry("Root", ["IORegistryEntry"], root=True,
              properties={"IOKitBuildVersion": "Darwin Kernel Version 12.2.0", "OS Build Version": "12C2034"}),
        Entry("Mac-1", ["IOPlatformExpertDevice", "IOService", "IORegistryEntry"],
              parents={service: ["Root"], dt: ["Root"]}, plane_names={dt: "/"},
              properties={"model": b"Mac-1\0"}),
        Entry("chosen", ["IOService", "IORegistryEntry"], parents={dt: ["Mac-1"]},
              registered=False),
        Entry("GFX0", ["IOPCIDevice", "IOService", "IORegistryEntry"], location="2",
              parents={service: ["Mac-1"], dt: ["Mac-1"]},
              properties={"vendor-id": b"\x86\x80\x00\x00", "device-id": b"\x26\x01\x00\x00",
                          "class-code": b"\x00\x00\x03\x00", "IOPCIResourced": True,
                          "big": -1, "count": 7}),
        Entry("AppleIntelFramebuffer", ["AppleIntelFramebuffer", "IOFramebuffer",
                                        "IOGraphicsDevice", "IOService", "IORegistryEntry"],
              parents={service: ["GFX0"]}, busy=1, bundle="com.apple.driver.AppleIntelHDGraphicsFB",
              properties={"IOClass": "AppleIntelFramebuffer", "IOProviderClass": "IOPCIDevice",
                          "IOPCIMatch": "0x01268086", "IOProbeScore": 1000}),
        Entry("RootDomainUserClient", ["RootDomainUserClient", "IOUserClient", "IOService",
                                       "IORegistryEntry"], parents={service: ["Mac-1"]},
              registered=False),
        Entry("Hub", ["IOUSBHubDevice", "IOUSBDevice", "IOUSBNub", "IOService", "IORegistryEntry"],
              location="1a100000", parents={service: ["GFX0"], "IOUSB": ["Root"]}),
    ]
