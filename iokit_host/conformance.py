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

Class ancestry comes from the dump's own record (``-i`` chains; an archive's recorded chains),
which wins, then the public knowledge base chosen for the OS build the dump's root records
(:mod:`iokit_host.matching.ancestry`) and the host's cited hand table, then the caller's
``classes`` (``iokit conformance --classes FILE``: a TOML ``[classes]`` table, as in a machine
model), which fill gaps only (see :class:`~iokit_host.matching.classes.ClassRegistry`). It is
never inferred from the pair being checked, nor from other pairs, so a provider whose class
nobody documents is rejected on ``IOProviderClass`` with that reason. Each accepted binding
whose provider passed ``IOProviderClass`` through such facts is counted in the dump's
``ancestry`` with the facts and their sources; each rejection has a category
(:data:`CATEGORIES`; the reasons come from :mod:`iokit_host.rejections`).

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
from iokit_host.matching.ancestry import AncestryFact, describe_ancestry
from iokit_host.matching.classes import ClassRegistry
from iokit_host.matching.families.usb import USB_KEYS
from iokit_host.registry import IORegistry
from iokit_host.rejections import CATEGORIES, explain_rejection

__all__ = [
    "CATEGORIES",
    "PERSONALITY_KEYS",
    "AncestryUse",
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
    :param category: whose shortfall it is, one of :data:`CATEGORIES`.
    """

    path: str
    class_name: str
    key: str
    reason: str
    category: str = "key-mismatch"

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "class": self.class_name, "key": self.key,
                "category": self.category, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class AncestryUse:
    """Ancestry that decided accepted matches: ``provider_class`` is an ``ancestor`` by
    ``facts`` (one per link), for ``count`` recorded bindings of the dump."""

    provider_class: str
    ancestor: str
    facts: tuple[AncestryFact, ...]
    count: int = 1

    def describe(self) -> str:
        return describe_ancestry(self.provider_class, self.ancestor, self.facts)

    def to_json(self) -> dict[str, Any]:
        return {"class": self.provider_class, "is_a": self.ancestor, "bindings": self.count,
                "facts": [fact.to_json() for fact in self.facts]}


@dataclass(frozen=True, slots=True)
class DumpConformance:
    """The measure for one dump.

    :param ancestry: the class facts that decided accepted matches, with their sources.
    :param release: the OS release the dump's root records (``11G63``), which chose among
        facts that changed between releases; None when it records none.
    :param error: why the dump could not be read at all (then nothing was measured).
    :param warnings: what reading a damaged dump tolerated (see :mod:`iokit_host.ioreg_import`).
    """

    file: str
    attachments: int
    accepted: int
    rejected: tuple[Rejection, ...] = ()
    error: Diagnostic | None = None
    warnings: tuple[Diagnostic, ...] = ()
    ancestry: tuple[AncestryUse, ...] = ()
    release: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"file": self.file, "attachments": self.attachments,
                                "accepted": self.accepted, "release": self.release,
                                "rejected": [r.to_json() for r in self.rejected],
                                "ancestry": [use.to_json() for use in self.ancestry]}
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
    """Import the dump or archive (or the zip holding one) at ``path`` and replay its
    recorded bindings.

    :raises IOKitError: it cannot be read (``ioreg-dump-invalid``, or the archive reader's
        reference).
    """
    from iokit_host.machine.loader import import_archive, import_dump
    from iokit_host.machine.sniff import file_kind
    from iokit_host.machine.zipped import read_zipped

    # A text dump, an IORegistryExplorer archive or ioreg -a output, or a zip holding one (as
    # boot reads it): each records bindings. A machine model records none, so anything else
    # is read as a dump and refused as one (ioreg-dump-invalid), not as a model with a TOML
    # error.
    kind = file_kind(Path(path))
    if kind == "zip":
        model = read_zipped(Path(path))
    else:
        model = import_archive(path) if kind == "plist" else import_dump(path)
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
    # The dump's own ancestry (-i chains, an archive's) wins (populate gives it to the
    # registry with the OS build its root records); the caller's fills gaps only.
    space.classes.declare(classes or {})
    populate(space, model)
    top = space.registry.plane_root(keys.SERVICE_PLANE)
    attachments = accepted = 0
    rejected: list[Rejection] = []
    used: dict[tuple[str, str], AncestryUse] = {}
    for path, spec, entry in _drivers(model.root, top):
        attachments += 1
        personality = recorded_personality(spec.properties)
        # An entry with several parents matched one of them; the dump does not say which
        # came first, so any parent that accepts the personality accounts for the binding.
        providers = entry.get_parent_entries(keys.SERVICE_PLANE)
        results = [match_passive(personality, p, registry=space.registry) for p in providers]
        winner = next((p for p, result in zip(providers, results) if result.matched), None)
        if winner is not None:
            accepted += 1
            _note_ancestry(used, space.classes, winner, personality.get(keys.PROVIDER_CLASS))
            continue
        first = results[0]
        key, reason, category = explain_rejection(personality, providers[0], first.failed_key,
                                                  first.reason, space.classes)
        rejected.append(Rejection(path, spec.class_name, key, reason, category))
    release = space.classes.release
    return DumpConformance(file or model.source or model.name, attachments, accepted,
                           tuple(rejected), ancestry=tuple(used[k] for k in sorted(used)),
                           release=str(release) if release is not None else None)


def _note_ancestry(used: dict[tuple[str, str], AncestryUse], classes: ClassRegistry,
                   provider: IORegistryEntry, wanted: Any) -> None:
    """Count the ancestry facts that let ``provider`` pass ``IOProviderClass`` ``wanted``."""
    name = provider.iokit_class_name
    if not isinstance(wanted, str) or wanted == name:
        return
    known = used.get((name, wanted))
    if known is not None:
        used[(name, wanted)] = replace(known, count=known.count + 1)
        return
    facts = classes.facts_between(name, wanted)
    if facts:
        used[(name, wanted)] = AncestryUse(name, wanted, facts)


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
