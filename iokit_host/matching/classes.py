"""The class registry: IOKit class names to Python classes (xnu's OSMetaClass ``sAllClassesDict``).

IOKit instantiates drivers by the name in ``IOClass`` and casts by name along a single
inheritance chain. Here each host owns a :class:`ClassRegistry`: the SDK's classes, a built-in
table of the standard family classes (so a provider of class ``AppleACPIPCI`` is known to be an
``IOPCIBridge``), classes a machine model declares, and the classes each kext registers when it
loads. A class the host knows only by name is synthesised as an empty subclass of its declared
superclass, so ``meta_cast`` and the catalogue's class-chain walk work for it unchanged.

As OSMetaClass does, a kext whose class names collide with registered ones registers none of
them (``kOSMetaClassDuplicateClass``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.service import IOResources, IOService

from iokit_host.errors import IOKitError
from iokit_host.matching.class_table import KNOWN_DRIVER_CLASSES

__all__ = ["KNOWN_DRIVER_CLASSES", "STANDARD_CLASSES", "ClassRegistry", "DuplicateClassError",
           "UnknownClassError"]

#: Standard IOKit family classes and their superclasses (from Apple's headers and
#: real ioreg ``-i`` output). Only ancestry matters here; behaviour lives in families/.
STANDARD_CLASSES: Mapping[str, str] = {
    # platform
    "IOPlatformExpertDevice": "IOService",
    "IOPlatformExpert": "IOService",
    "IODTPlatformExpert": "IOPlatformExpert",
    "IOACPIPlatformExpert": "IODTPlatformExpert",
    "AppleACPIPlatformExpert": "IOACPIPlatformExpert",
    "IOPlatformDevice": "IOService",
    "IOACPIPlatformDevice": "IOPlatformDevice",
    "AppleACPIPlatformDevice": "IOACPIPlatformDevice",
    "AppleACPIDevice": "IOACPIPlatformDevice",
    "IODTNVRAM": "IOService",
    "IOPMrootDomain": "IOService",
    "IOUserResources": "IOService",
    "IOUserClient": "IOService",
    "IOUserService": "IOService",
    "IOUserServer": "IOUserClient",
    # PCI
    "IOPCIDevice": "IOService",
    "IOAGPDevice": "IOPCIDevice",
    "IOPCIBridge": "IOService",
    "IOPCI2PCIBridge": "IOPCIBridge",
    "AppleACPIPCI": "IOPCIBridge",
    "IOPCIHostBridge": "IOPCIBridge",
    "AppleMacRiscPCI": "IOPCIBridge",
    # USB (legacy IOUSBFamily and modern IOUSBHostFamily)
    "IOUSBNub": "IOService",
    "IOUSBDevice": "IOUSBNub",
    "IOUSBInterface": "IOUSBNub",
    "IOUSBHostDevice": "IOService",
    "IOUSBHostInterface": "IOService",
    "IOUSBController": "IOService",
    "IOUSBControllerV2": "IOUSBController",
    "IOUSBControllerV3": "IOUSBControllerV2",
    "IOUSBHostController": "IOService",
    "AppleUSBXHCI": "IOUSBHostController",
    "AppleUSBHostController": "IOUSBHostController",
    "IOUSBRootHubDevice": "IOUSBDevice",
    "AppleUSBHub": "IOService",
    "AppleUSBHostCompositeDevice": "IOService",
    # HID
    "IOHIDDevice": "IOService",
    "IOHIDInterface": "IOService",
    "IOHIDEventService": "IOService",
    "IOHIDEventDriver": "IOHIDEventService",
    "IOHIDSystem": "IOService",
    "IOUSBHIDDriver": "IOHIDDevice",
    # networking
    "IONetworkController": "IOService",
    "IOEthernetController": "IONetworkController",
    "IO80211Controller": "IOEthernetController",
    "IONetworkInterface": "IOService",
    "IOEthernetInterface": "IONetworkInterface",
    "IO80211Interface": "IOEthernetInterface",
    # storage
    "IOStorage": "IOService",
    "IOMedia": "IOStorage",
    "IOBlockStorageDevice": "IOService",
    "IOBlockStorageDriver": "IOStorage",
    "IOAHCIDevice": "IOService",
    "IOAHCIBlockStorageDevice": "IOBlockStorageDevice",
    "IONVMeController": "IOService",
    # graphics, audio, power, misc
    "IOGraphicsDevice": "IOService",
    "IOFramebuffer": "IOGraphicsDevice",
    "IODisplay": "IOService",
    "IODisplayConnect": "IOService",
    "IOAudioDevice": "IOService",
    "IOAudioEngine": "IOService",
    "IOPMPowerSource": "IOService",
    "IOSMBusController": "IOService",
    "IOI2CController": "IOService",
    "IOSerialDriverSync": "IOService",
    "IOSerialStreamSync": "IOService",
    "IOFireWireController": "IOService",
    "IOFireWireNub": "IOService",
    "IOFireWireDevice": "IOFireWireNub",
    "IOFireWireUnit": "IOFireWireNub",
    "IOPowerConnection": "IOService",
    "IORootParent": "IOService",
    # Family classes that real dumps show as providers (engineer E, from Apple's family
    # headers: IOUSBHubDevice.h, IOSCSIProtocolServices.h, IOUSBMassStorageClass.h,
    # IOBlockStorageServices.h, IODVDServices.h, IOAHCISerialATAPI.h, IOFireWireLocalNode.h,
    # IONDRV.h / IONDRVFramebuffer.h), never from the pairs the conformance check tests.
    "IOUSBHubDevice": "IOUSBDevice",
    "IOSCSIProtocolInterface": "IOService",
    "IOSCSIProtocolServices": "IOSCSIProtocolInterface",
    "IOUSBMassStorageClass": "IOSCSIProtocolServices",
    "IOAHCISerialATAPI": "IOSCSIProtocolServices",
    "IOBlockStorageServices": "IOBlockStorageDevice",
    "IOCDBlockStorageDevice": "IOBlockStorageDevice",
    "IODVDBlockStorageDevice": "IOCDBlockStorageDevice",
    "IODVDServices": "IODVDBlockStorageDevice",
    "IOFireWireLocalNode": "IOFireWireNub",
    "IONDRVDevice": "IOPlatformDevice",
    "IONDRVFramebuffer": "IOFramebuffer",
}


class UnknownClassError(IOKitError):
    reference = "class-unknown"


class DuplicateClassError(IOKitError):
    reference = "class-duplicate"


class ClassRegistry:
    """Class name -> Python class, for one host. Lookups are O(1); nothing is global."""

    def __init__(self) -> None:
        self._classes: dict[str, type[IORegistryEntry]] = {}
        self._owners: dict[str, str] = {}
        # Built-in ancestry: the standard family classes, then driver classes whose ancestry
        # is documented outside the dumps (iokit_host.matching.class_table). Both come first, so
        # declare() -- which keeps the first superclass it knows -- never overrides them.
        self._declared: dict[str, str] = {**KNOWN_DRIVER_CLASSES, **STANDARD_CLASSES}
        for cls in (IORegistryEntry, IOService, IOResources):
            self._classes[cls.iokit_class_name] = cls

    def declare(self, ancestry: Mapping[str, str]) -> None:
        """Declare superclasses of classes known only by name (machine models, dumps)."""
        for name, superclass in ancestry.items():
            if name not in self._classes:
                self._declared.setdefault(name, superclass)

    def register_kext_classes(self, owner: str, classes: Iterable[type[IORegistryEntry]]) -> None:
        """Register a kext's classes atomically; a collision registers none of them."""
        batch = {cls.iokit_class_name: cls for cls in classes}
        clashes = sorted(n for n in batch if n in self._classes and self._classes[n] is not batch[n])
        if clashes:
            holder = self._owners.get(clashes[0], "the host")
            raise DuplicateClassError(
                f"class {clashes[0]} is already registered by {holder}",
                subject=owner, key=clashes[0],
                hint="rename the class, or uninstall the other kext that defines it")
        for name, cls in batch.items():
            self._classes[name] = cls
            self._owners[name] = owner

    def unregister_kext_classes(self, owner: str) -> None:
        for name in [n for n, o in self._owners.items() if o == owner]:
            del self._classes[name], self._owners[name]

    def owner_of(self, name: str) -> str | None:
        return self._owners.get(name)

    def is_known(self, name: str) -> bool:
        return name in self._classes or name in self._declared

    def lookup(self, name: str) -> type[IORegistryEntry] | None:
        """The registered class (``getMetaClassWithName``), or None. Never synthesises."""
        return self._classes.get(name)

    def resolve(self, name: str, default_super: str | None = None) -> type[IORegistryEntry]:
        """The class for ``name``, synthesising it from declared ancestry when needed.

        :param default_super: superclass to assume for a name nobody declared; without it
            an undeclared name raises :class:`UnknownClassError`.
        """
        cls = self._classes.get(name)
        if cls is not None:
            return cls
        superclass = self._declared.get(name, default_super)
        if superclass is None:
            raise UnknownClassError(f"class {name} is not known to the host", key=name,
                                    hint="declare its superclass in the machine model's classes")
        if superclass == name:
            raise UnknownClassError(f"class {name} is declared as its own superclass", key=name)
        return self._synthesise(name, self._resolve_chain(name, superclass))

    def _resolve_chain(self, name: str, superclass: str) -> type[IORegistryEntry]:
        seen = {name}
        pending = [superclass]
        while pending[-1] not in self._classes:
            nxt = self._declared.get(pending[-1], "IOService")
            if nxt in seen or nxt in pending:
                raise UnknownClassError(f"class ancestry of {name} loops through {nxt}", key=name)
            pending.append(nxt)
        base = self._classes[pending.pop()]
        while pending:
            base = self._synthesise(pending.pop(), base)
        return base

    def _synthesise(self, name: str, base: type[IORegistryEntry]) -> type[IORegistryEntry]:
        namespace = {"__slots__": (), "iokit_class_name": name, "__module__": __name__,
                     "synthesised": True}
        cls = type(name if name.isidentifier() else "SynthesisedClass", (base,), namespace)
        self._classes[name] = cls
        return cls

    def superclass_name(self, name: str) -> str | None:
        cls = self._classes.get(name)
        if cls is not None:
            chain = cls.class_chain
            return chain[1] if len(chain) > 1 else None
        return self._declared.get(name)

    def chain(self, name: str) -> tuple[str, ...]:
        """The class chain of ``name`` from itself up to IORegistryEntry (as far as known)."""
        cls = self._classes.get(name)
        if cls is not None:
            return cls.class_chain
        chain = [name]
        while (nxt := self._declared.get(chain[-1])) and nxt not in chain:
            chain.append(nxt)
            if nxt in self._classes:
                return (*chain[:-1], *self._classes[nxt].class_chain)
        return tuple(chain)
