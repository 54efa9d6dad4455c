"""The class registry: IOKit class names to Python classes (xnu's OSMetaClass ``sAllClassesDict``).

IOKit instantiates drivers by the name in ``IOClass`` and casts by name along a single
inheritance chain. Here each host owns a :class:`ClassRegistry`: the SDK's classes, the classes
each kext registers when it loads, and, for classes known only by name, their superclass from
(best first) the machine's own record (``ioreg -i`` chains, an IORegistryExplorer archive, a
model's ``[classes]``), the public knowledge base chosen for the machine's OS release
(:mod:`iokit_host.matching.ancestry`), the hand table below (:data:`STANDARD_CLASSES`,
:data:`KNOWN_DRIVER_CLASSES`: cited entries for classes the public tables leave out, never
disagreeing with them), what a caller declares (``--classes``), and last the iOS class dump.
A class known only by name is synthesised as an empty subclass of its superclass, so
``meta_cast`` and the catalogue's class-chain walk work for it unchanged, and
:meth:`ClassRegistry.fact` says which source decided each link.

As OSMetaClass does, a kext whose class names collide with registered ones registers none of
them (``kOSMetaClassDuplicateClass``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.service import IOResources, IOService

from iokit_host.errors import IOKitError
from iokit_host.matching.ancestry import (
    STRONG_TIERS,
    WEAK_TIERS,
    AncestryFact,
    AncestryKnowledge,
    describe_ancestry,
    shipped_knowledge,
)
from iokit_host.matching.class_table import KNOWN_DRIVER_CLASSES
from iokit_host.matching.releases import OSRelease, release_of
from iokit_host.matching.sealed import check_class

__all__ = [
    "KNOWN_DRIVER_CLASSES",
    "MAX_CLASS_DEPTH",
    "STANDARD_CLASSES",
    "ClassRegistry",
    "DuplicateClassError",
    "UnknownClassError",
]

#: Standard IOKit family classes and their superclasses (from Apple's headers and
#: real ioreg ``-i`` output). Only ancestry matters here; behaviour lives in families/.
#: Entries the public tables decide otherwise (or per release) are left to the knowledge base
#: (tests/matching/test_class_table.py checks that none disagrees with it).
STANDARD_CLASSES: Mapping[str, str] = {
    # platform
    "IOPlatformExpertDevice": "IOService",
    "IOPlatformExpert": "IOService",
    "IODTPlatformExpert": "IOPlatformExpert",
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
    "IOUSBControllerV2": "IOUSBController",
    "IOUSBControllerV3": "IOUSBControllerV2",
    "IOUSBHostController": "IOService",
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
    "IOSMBusController": "IOService",
    "IOI2CController": "IOService",
    "IOSerialDriverSync": "IOService",
    "IOSerialStreamSync": "IOService",
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


#: How many classes a chain holds at most, the class itself and IORegistryEntry included.
#: IOKit's deepest chains are some twenty long; a recorded or declared ancestry far longer is
#: damage, and each synthesised class holds its whole chain (its MRO), so without a bound a
#: chain 100,000 long would take memory quadratic in its length. Links past the bound are
#: taken to be an ``IOService``, as a link no source knows is.
MAX_CLASS_DEPTH = 256


#: Classes a chain may synthesise between a class and the IOService that ends it.
_SYNTHESISED_DEPTH = MAX_CLASS_DEPTH - 1 - len(IOService.class_chain)


class UnknownClassError(IOKitError):
    reference = "class-unknown"


class DuplicateClassError(IOKitError):
    reference = "class-duplicate"


#: The hand tables as one mapping (the family table first: they must not overlap).
_HAND_TABLE: Mapping[str, str] = {**KNOWN_DRIVER_CLASSES, **STANDARD_CLASSES}


class ClassRegistry:
    """Class name -> Python class, for one host. Lookups are O(1); nothing is global.

    :param knowledge: the public knowledge base; default: the one shipped with the host,
        read on the first class the hand table does not know.
    """

    def __init__(self, knowledge: AncestryKnowledge | None = None) -> None:
        self._classes: dict[str, type[IORegistryEntry]] = {}
        self._owners: dict[str, str] = {}
        self._recorded: dict[str, str] = {}
        self._declared: dict[str, str] = {}
        self._knowledge = knowledge
        self._release: OSRelease | None = None
        self._machine = ""
        self._facts: dict[str, AncestryFact | None] = {}
        self._defaulted: set[str] = set()
        for cls in (IORegistryEntry, IOService, IOResources):
            self._classes[cls.iokit_class_name] = cls

    # -- what the host learns --------------------------------------------------------------
    def use_machine(self, classes: Mapping[str, str], root_properties: Mapping[str, Any],
                    source: str | None = None) -> None:
        """Take a machine's own ancestry (its recorded chains or model's ``[classes]``: they
        win over every table) and the OS release its root records, which chooses among
        facts that changed between releases. Call before its nubs are built."""
        self._release = release_of(root_properties)
        self._machine = PurePath(source).name if source else ""
        for name, superclass in classes.items():
            if name not in self._classes:
                self._recorded.setdefault(name, superclass)
        self._facts.clear()

    @property
    def release(self) -> OSRelease | None:
        """The OS release the machine records, or None."""
        return self._release

    def declare(self, ancestry: Mapping[str, str]) -> None:
        """Declare superclasses of classes known only by name (``--classes``): they fill gaps
        the machine and the public tables leave, keeping the first superclass given."""
        for name, superclass in ancestry.items():
            if name not in self._classes:
                self._declared.setdefault(name, superclass)
                self._facts.pop(name, None)

    def register_kext_classes(self, owner: str, classes: Iterable[type[IORegistryEntry]]) -> None:
        """Register a kext's classes atomically; a collision, or a class overriding what the
        kernel reads (:mod:`.sealed`), registers none of them."""
        batch = {cls.iokit_class_name: cls for cls in classes}
        for cls in batch.values():
            check_class(cls, owner)
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

    # -- ancestry ----------------------------------------------------------------------------
    def fact(self, name: str) -> AncestryFact | None:
        """The fact that gives ``name``'s superclass here (see the module doc for the order);
        None for a class no source knows. A class defined in code keeps its code's chain
        whatever the sources say (:meth:`facts_between` skips it)."""
        if name in self._facts:
            return self._facts[name]
        found = self._find_fact(name)
        self._facts[name] = found
        return found

    def _find_fact(self, name: str) -> AncestryFact | None:
        if (superclass := self._recorded.get(name)) is not None:
            return AncestryFact(name, superclass, "recorded", self._machine)
        if (superclass := _HAND_TABLE.get(name)) is not None:
            return AncestryFact(name, superclass, "host-table", "iokit_host/matching/"
                                + ("classes.py" if name in STANDARD_CLASSES else "class_table.py"))
        knowledge = self._knowledge or shipped_knowledge()
        found = knowledge.fact(name, self._release, STRONG_TIERS)
        if found is not None:
            return found
        if (superclass := self._declared.get(name)) is not None:
            return AncestryFact(name, superclass, "declared", "--classes")
        return knowledge.fact(name, self._release, WEAK_TIERS)

    def _superclass(self, name: str) -> str | None:
        found = self.fact(name)
        return found.superclass if found is not None else None

    def is_known(self, name: str) -> bool:
        return name in self._classes or self._superclass(name) is not None

    @property
    def defaulted(self) -> frozenset[str]:
        """Classes no source knew, assumed to be ``IOService``s when they were resolved."""
        return frozenset(self._defaulted)

    def ancestry_known(self, name: str) -> bool:
        """False when some class on ``name``'s chain had no source and was assumed an
        ``IOService`` (``resolve``'s ``default_super``)."""
        return not any(link in self._defaulted for link in self.chain(name))

    def lookup(self, name: str) -> type[IORegistryEntry] | None:
        """The registered class (``getMetaClassWithName``), or None. Never synthesises."""
        return self._classes.get(name)

    def resolve(self, name: str, default_super: str | None = None) -> type[IORegistryEntry]:
        """The class for ``name``, synthesising it from known ancestry when needed.

        :param default_super: superclass to assume for a name no source knows; without it
            an unknown name raises :class:`UnknownClassError`.
        """
        cls = self._classes.get(name)
        if cls is not None:
            return cls
        superclass = self._superclass(name)
        if superclass is None and default_super is not None:
            superclass = default_super
            self._defaulted.add(name)
        if superclass is None:
            raise UnknownClassError(f"class {name} is not known to the host", key=name,
                                    hint="declare its superclass in the machine model's classes")
        if superclass == name:
            raise UnknownClassError(f"class {name} is declared as its own superclass", key=name)
        return self._synthesise(name, self._resolve_chain(name, superclass))

    def _resolve_chain(self, name: str, superclass: str) -> type[IORegistryEntry]:
        seen = {name, superclass}
        pending = [superclass]
        while pending[-1] not in self._classes:
            nxt = self._superclass(pending[-1])
            if nxt is None or len(pending) >= _SYNTHESISED_DEPTH:
                # Known only as someone's superclass (or past any real chain's length): the
                # OSObject classes above IOService are registered, so such a link is taken
                # to be an IOService.
                nxt = "IOService"
                self._defaulted.add(pending[-1])
            if nxt in seen:
                raise UnknownClassError(f"class ancestry of {name} loops through {nxt}", key=name)
            seen.add(nxt)
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
        return self._superclass(name)

    def chain(self, name: str) -> tuple[str, ...]:
        """The class chain of ``name`` from itself up to IORegistryEntry (as far as known)."""
        cls = self._classes.get(name)
        if cls is not None:
            return cls.class_chain
        chain = [name]
        seen = {name}
        while (len(chain) < MAX_CLASS_DEPTH and (nxt := self._superclass(chain[-1]))
               and nxt not in seen):
            chain.append(nxt)
            seen.add(nxt)
            if nxt in self._classes:
                return (*chain[:-1], *self._classes[nxt].class_chain)
        return tuple(chain)

    def facts_between(self, name: str, ancestor: str) -> tuple[AncestryFact, ...]:
        """The facts that make ``name`` an ``ancestor``, link by link, from ``name`` up; links
        a class's own code fixes (SDK and kext classes) have no fact and are skipped."""
        chain = self.chain(name)
        if ancestor not in chain:
            return ()
        links = chain[:chain.index(ancestor)]
        found = [self._link_fact(link) for link in links]
        return tuple(fact for fact in found if fact is not None)

    def _link_fact(self, name: str) -> AncestryFact | None:
        cls = self._classes.get(name)
        if cls is not None and not getattr(cls, "synthesised", False):
            return None
        if name in self._defaulted:
            return None
        return self.cited_fact(name)

    def cited_fact(self, name: str) -> AncestryFact | None:
        """:meth:`fact`, but a hand-table entry is cited by the public fact that agrees with
        it when there is one (resolution reads the hand table first only to spare a boot the
        knowledge base; the two never disagree)."""
        found = self.fact(name)
        if found is None or found.kind != "host-table":
            return found
        public = (self._knowledge or shipped_knowledge()).fact(name, self._release, STRONG_TIERS)
        return public if public is not None and public.superclass == found.superclass else found

    def describe_ancestry(self, name: str, ancestor: str) -> str:
        """``AMDFramebuffer is an IOFramebuffer (AMDFramebuffer : IOFramebuffer, archive chain,
        MacBookPro10,2 12B13 (khronokernel/DarwinDumped))``; empty when no fact decided it."""
        facts = self.facts_between(name, ancestor)
        return describe_ancestry(name, ancestor, facts) if facts else ""
