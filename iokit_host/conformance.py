"""Conformance against real machines: does passive matching accept every binding macOS made?

In an ``ioreg -l`` dump every driver node carries (a copy of) the personality it matched, and
its parent in the IOService plane is the provider it matched against -- IOKit's
``probeCandidates`` copies the personality into the instance (``IOService::init``). So each
(provider, recorded personality) pair is a match ``IOService::matchPassive`` accepted on a Mac.
This module replays every pair through :func:`iokit_host.matching.passive.match_passive` and reports
the recall: accepted pairs over all recorded pairs, with the failing key and reason for each
rejection.

**Which recorded properties are the personality.** A driver's property table is its personality
plus whatever it set while running (statistics, power state, user-client settings). Only keys
that passive matching reads can change its outcome, so the recorded personality is the
driver's properties restricted to :data:`PERSONALITY_KEYS`: ``IOProviderClass`` and the generic
keys of ``matchInternal``/``matchPassive`` (IONameMatch, IOPropertyMatch, IOPropertyExistsMatch,
IOPathMatch, IOLocationMatch, IOParentMatch, IORegistryEntryID, IOMatchedServiceCountMatch,
IOResourceMatch), the family keys (PCI register keys and ``IOPCITunnelCompatible``; the QA1076
USB keys) and the keys that rank and name the driver (IOClass, IOProbeScore, IOMatchCategory,
CFBundleIdentifier). Run-time properties that merely *look* like personalities (a driver's own
``IOPropertyMatch``-shaped settings under another name, its statistics) are left out; a key
with a matching key's exact name is taken as personality, since IOKit itself could not tell.
``IONameMatched`` is matching's *output* and is left out too. ``BSD Name``/``BSD Major``/...
are left out: ``matchInternal`` reads them, but only user-space matching dictionaries use
them, while drivers that publish a BSD node set them on themselves after start.

Which nodes are drivers is decided by the importer (``IOProviderClass`` and ``IOClass``, see
:mod:`iokit_host.ioreg_import.model`). Dumps without properties, and device-tree plane dumps
(whose parents are not providers), have no recorded attachments.

Class ancestry comes from the host's built-in tables (standard family classes, and driver
classes whose ancestry is documented outside the dumps: :mod:`iokit_host.matching.class_table`), from
``-i`` chains in the dump, and from the caller's ``classes`` (``iokit conformance --classes
FILE``: a TOML ``[classes]`` table, as in a machine model). It is never inferred from the pair
being checked, nor from other pairs, so a provider whose class nobody documents is rejected on
``IOProviderClass`` with that reason. Built-in ancestry wins over declared ancestry (see
:class:`~iokit_host.matching.classes.ClassRegistry`), then the dump's, then the caller's.

**State from after the match.** A dump is taken long after matching, and some providers changed
since: the x86 booter names the device-tree root ``ACPI`` and platform code renames it to the
model later; a driver can hang under the provider of the nub it matched. Such pairs stay
rejected -- accepting them would take a rule IOKit does not have -- and the reason says what the
dump cannot show (the booter's root names; the provider's nubs that carry a wanted property).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from iokit_sdk import keys
from iokit_sdk.entry import IORegistryEntry

from iokit_host.errors import Diagnostic, IOKitError
from iokit_host.machine.model import MachineModel, NubSpec
from iokit_host.matching.classes import ClassRegistry
from iokit_host.matching.families.pci import PCI_TUNNELLED, pci_failed_key
from iokit_host.matching.families.usb import USB_KEYS, usb_failed_key
from iokit_host.matching.generic_keys import property_tables
from iokit_host.registry import IORegistry

__all__ = [
    "PERSONALITY_KEYS",
    "ConformanceReport",
    "DumpConformance",
    "Rejection",
    "check_dump",
    "check_model",
    "read_classes",
    "recorded_personality",
    "run_conformance",
]

PERSONALITY_KEYS = frozenset({
    keys.PROVIDER_CLASS, keys.NAME_MATCH, keys.PROPERTY_MATCH, keys.PROPERTY_EXISTS_MATCH,
    keys.PATH_MATCH, keys.LOCATION_MATCH, keys.PARENT_MATCH, keys.REGISTRY_ENTRY_ID_MATCH,
    keys.MATCHED_SERVICE_COUNT_MATCH, keys.RESOURCE_MATCH,
    keys.PCI_MATCH, keys.PCI_PRIMARY_MATCH, keys.PCI_SECONDARY_MATCH, keys.PCI_CLASS_MATCH,
    keys.PCI_TUNNEL_COMPATIBLE, *USB_KEYS,
    keys.CLASS, keys.PROBE_SCORE, keys.MATCH_CATEGORY, keys.BUNDLE_IDENTIFIER,
})


@dataclass(frozen=True, slots=True)
class Rejection:
    """One recorded binding that passive matching refused.

    :param path: the driver's IOService-plane path in the dump.
    :param class_name: the driver's class.
    :param key: the personality key that failed.
    :param reason: why, in one sentence, naming the provider.
    """

    path: str
    class_name: str
    key: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "class": self.class_name, "key": self.key,
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class DumpConformance:
    """The measure for one dump.

    :param error: why the dump could not be read at all (then nothing was measured).
    :param warnings: what reading a damaged dump tolerated (see :mod:`iokit_host.ioreg_import`).
    """

    file: str
    attachments: int
    accepted: int
    rejected: tuple[Rejection, ...] = ()
    error: Diagnostic | None = None
    warnings: tuple[Diagnostic, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.file, "attachments": self.attachments,
                                "accepted": self.accepted,
                                "rejected": [r.to_json() for r in self.rejected]}
        if self.error is not None:
            data["error"] = self.error.to_json()
        if self.warnings:
            data["warnings"] = [w.to_json() for w in self.warnings]
        return data


@dataclass(frozen=True, slots=True)
class ConformanceReport:
    """The measure over several dumps; ``recall`` is None when nothing was recorded."""

    dumps: tuple[DumpConformance, ...] = field(default_factory=tuple)

    @property
    def attachments(self) -> int:
        return sum(d.attachments for d in self.dumps)

    @property
    def accepted(self) -> int:
        return sum(d.accepted for d in self.dumps)

    @property
    def recall(self) -> float | None:
        return self.accepted / self.attachments if self.attachments else None

    @property
    def unreadable(self) -> int:
        """How many dumps could not be read at all."""
        return sum(d.error is not None for d in self.dumps)

    def to_json(self) -> dict[str, Any]:
        return {"dumps": [d.to_json() for d in self.dumps], "attachments": self.attachments,
                "accepted": self.accepted, "recall": self.recall,
                "unreadable": self.unreadable}


def recorded_personality(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The personality a driver node recorded: its properties restricted to matching's keys."""
    return {key: value for key, value in properties.items() if key in PERSONALITY_KEYS}


def run_conformance(paths: Iterable[str | Path], *,
                    classes: Mapping[str, str] | None = None) -> ConformanceReport:
    """The measure over the dumps at ``paths``, in order. A dump that cannot be read is an
    entry with its ``error``, and the rest are measured all the same.

    :param classes: extra class ancestry (name -> superclass) the caller knows, e.g. from an
        ``ioreg -i`` dump of the same machine (:func:`read_classes`).
    """
    return ConformanceReport(tuple(_check_or_report(path, classes) for path in paths))


def _check_or_report(path: str | Path, classes: Mapping[str, str] | None) -> DumpConformance:
    try:
        return check_dump(path, classes=classes)
    except IOKitError as error:  # ours: an unreadable dump, or a model that cannot be built
        return DumpConformance(str(path), 0, 0, error=error.diagnostic)


def read_classes(path: str | Path) -> dict[str, str]:
    """The ``[classes]`` table of a TOML file, validated as a machine model's (see
    :func:`iokit_host.machine.format.read_classes_file`)."""
    from iokit_host.machine.format import read_classes_file

    return read_classes_file(path)


def check_dump(path: str | Path, *, classes: Mapping[str, str] | None = None) -> DumpConformance:
    """Import the dump at ``path`` and replay its recorded bindings.

    :raises IOKitError: the dump cannot be read (``ioreg-dump-invalid``).
    """
    from iokit_host.ioreg_import import import_dump

    model = import_dump(path)
    result = check_model(model, file=str(path), classes=classes)
    return replace(result, warnings=model.diagnostics)


@dataclass(slots=True)
class _Workspace:
    """What ``populate`` needs of a host: a class registry and a registry."""

    classes: ClassRegistry
    registry: IORegistry


def check_model(model: MachineModel, *, file: str | None = None,
                classes: Mapping[str, str] | None = None) -> DumpConformance:
    """Replay every recorded driver of ``model`` against its parent (see the module doc).

    :param classes: extra ancestry, declared after the model's own (so it fills gaps only).
    """
    from iokit_host.machine.build import populate
    from iokit_host.matching.passive import match_passive

    space = _Workspace(ClassRegistry(), IORegistry(model.planes))
    # The dump's own ancestry (-i chains) first, then the caller's: declare() keeps the first
    # superclass it is given, and the built-in tables come before both.
    space.classes.declare(model.classes)
    space.classes.declare(classes or {})
    populate(space, model)
    top = space.registry.plane_root(keys.SERVICE_PLANE)
    attachments = accepted = 0
    rejected: list[Rejection] = []
    for path, spec, entry in _drivers(model.root, top):
        attachments += 1
        personality = recorded_personality(spec.properties)
        # An entry with several parents matched one of them; the dump does not say which
        # came first, so any parent that accepts the personality accounts for the binding.
        providers = entry.get_parent_entries(keys.SERVICE_PLANE)
        results = [match_passive(personality, p, registry=space.registry) for p in providers]
        if any(result.matched for result in results):
            accepted += 1
            continue
        first = results[0]
        key, reason = _explain(personality, providers[0], first.failed_key, first.reason)
        rejected.append(Rejection(path, spec.class_name, key, reason))
    return DumpConformance(file or model.source or model.name, attachments, accepted,
                           tuple(rejected))


def _component(spec: NubSpec) -> str:
    name = spec.name if spec.name is not None else spec.class_name
    return f"{name}@{spec.location}" if spec.location else name


def _drivers(root: NubSpec, top: IORegistryEntry | None
             ) -> Iterator[tuple[str, NubSpec, IORegistryEntry]]:
    """``(path, spec, entry)`` for each recorded driver, walking model and registry together
    (``populate`` attaches children in model order, extra parents' links after them)."""
    if top is None:
        return
    stack: list[tuple[NubSpec, IORegistryEntry, str]] = [(root, top, f"IOService:/{_component(root)}")]
    while stack:
        spec, entry, path = stack.pop()
        children = [c for c in entry.get_child_entries(keys.SERVICE_PLANE)]
        for child_spec, child in reversed(list(zip(spec.children, children))):
            child_path = f"{path}/{_component(child_spec)}"
            if child_spec.recorded_driver:
                yield child_path, child_spec, child
            stack.append((child_spec, child, child_path))


def _explain(personality: Mapping[str, Any], provider: IORegistryEntry, key: str | None,
             reason: str | None) -> tuple[str, str]:
    """Name the exact key when the family hook refused (the generic result names only
    ``matchPropertyTable`` when several family keys were present)."""
    where = f"provider {provider.get_name()} ({provider.iokit_class_name})"
    if key == keys.PROVIDER_CLASS and getattr(type(provider), "synthesised", False):
        reason = (f"{reason}; the ancestry of {provider.iokit_class_name} is unknown: the dump "
                  "was not taken with ioreg -i and the class is in neither the host's class "
                  "table nor the declared classes (--classes)")
    if key == keys.NAME_MATCH and keys.NAME_MATCH in personality:
        reason = _name_reason(personality[keys.NAME_MATCH], provider)
    if key == keys.PROPERTY_MATCH and (holders := _clients_holding(personality, provider)):
        reason = f"{reason}; the provider's clients carry it: {', '.join(holders)}"
    family_key: str | None = None
    if provider.meta_cast("IOPCIDevice"):
        family_key = pci_failed_key(provider, personality)
        if family_key == keys.PCI_TUNNEL_COMPATIBLE:
            reason = f"{PCI_TUNNELLED} nub and the personality is not tunnel-compatible"
    elif any(provider.meta_cast(name) for name in _USB_NUBS):
        family_key = usb_failed_key(provider, personality,
                                    interface=not _is_usb_device(provider))
    if family_key is not None and (key is None or key not in personality):
        key = family_key
        if reason is None or "matchPropertyTable" in reason or "family" in reason:
            reason = _family_reason(family_key, personality, provider)
    return key or "matchPropertyTable", f"{where}: {reason or 'refused'}"


def _name_reason(wanted: Any, provider: IORegistryEntry) -> str:
    """Say which of the nub's names ``compareName`` tried. Device-tree, platform and ACPI nubs
    compare ``name``/``compatible``/``device_type``/``model`` (ACPI nubs also ``_HID``/``_CID``;
    platform and ACPI nubs then the entry name), other classes only the entry name
    (``IORegistryEntry::compareName``); see :mod:`iokit_host.matching.families.names`."""
    from iokit_host.matching import families
    from iokit_host.matching.families import names

    compare = families.name_comparer_for(provider)
    tried: tuple[str, ...] = ()
    if compare in (names.dt_compare_nub_name, names.platform_compare_name,
                   names.acpi_compare_name):
        tried = names.DT_NAME_KEYS
    if compare is names.acpi_compare_name:
        tried = (*tried, *names.ACPI_ID_KEYS)
    shown = []
    for key in tried:
        strings = list(names._strings(provider.get_property(key)))
        if strings:
            shown.append(f"{key} {strings[0]!r}" if len(strings) == 1 else f"{key} {strings!r}")
    if compare is not names.dt_compare_nub_name:
        tried = (*tried, "entry name")
        shown.append(f"entry name {provider.get_name()!r}")
    listed = [wanted] if isinstance(wanted, str) else list(wanted) if isinstance(
        wanted, (list, tuple)) else wanted
    reason = f"none of {listed!r} matches the nub's {'/'.join(tried)} ({', '.join(shown)})"
    if getattr(type(provider), "synthesised", False) and compare is families.default_compare_name:
        others = [f"{key} {list(names._strings(provider.get_property(key)))!r}"
                  for key in names.DT_NAME_KEYS[1:] if provider.get_property(key) is not None]
        reason += (f"; the ancestry of {provider.iokit_class_name} is unknown, so only "
                   "IORegistryEntry::compareName (the entry name) applies"
                   + (f" -- a device-tree name comparer would also try {', '.join(others)}"
                      if others else ""))
    if provider.meta_cast("IOPlatformExpertDevice") and "ACPI" in listed:
        reason += _BOOTER_ROOT_NOTE
    return reason


#: Why a post-boot dump cannot show the name the platform expert matched on x86: Apple's i386
#: booter (boot-132; the same code in Chameleon's i386/libsaio/bootstruct.c and misc.c)
#: creates the device-tree root with getPlatformName()'s "ACPI" as both compatible and model,
#: and the values a dump shows were written after the platform expert matched (a public
#: VMware dump shows the same: IONameMatched "ACPI" under a root whose compatible is the model).
_BOOTER_ROOT_NOTE = ("; the booter creates the device-tree root with compatible and model "
                     "'ACPI' (boot-132 getPlatformName), so this dump shows the root's "
                     "names as they were after matching, not the ones matched")


def _clients_holding(personality: Mapping[str, Any], provider: IORegistryEntry) -> list[str]:
    """The provider's nubs (clients that are not drivers) carrying the first key of the first
    ``IOPropertyMatch`` table that the provider lacks, with their values: a dump can show a
    driver under the provider of the nub it matched."""
    tables = property_tables(personality.get(keys.PROPERTY_MATCH))
    missing = next((k for k, _ in tables[0] if not provider.has_property(k)),
                   None) if tables else None
    if missing is None:
        return []
    return [f"{client.get_name()} ({missing} {client.get_property(missing)!r})"
            for client in provider.get_child_entries(keys.SERVICE_PLANE)
            if client.has_property(missing) and not client.has_property(keys.MATCH_CATEGORY)]


_USB_NUBS = ("IOUSBDevice", "IOUSBInterface", "IOUSBHostDevice", "IOUSBHostInterface")


def _is_usb_device(nub: IORegistryEntry) -> bool:
    return nub.meta_cast("IOUSBDevice") or nub.meta_cast("IOUSBHostDevice")


def _family_reason(key: str, personality: Mapping[str, Any], provider: IORegistryEntry) -> str:
    if key in personality and key in PERSONALITY_KEYS and key.startswith("IOPCI"):
        return f"{key} {personality[key]!r} does not match the nub's config registers"
    if key in personality:
        return f"{key} is {personality[key]!r}, the nub has {provider.get_property(key)!r}"
    return f"no QA1076 key combination applies ({key} is required and missing)"
