"""IOKitHost: the composition root that owns one modelled kernel (registry, classes, kexts).

A Mac's kernel is a set of globals (``gIOCatalogue``, ``gIOServiceRoot``, ``sKextsByID``); here
one :class:`IOKitHost` object owns all of that state, so tests build as many hosts as they like
and nothing happens at import time. ``boot`` does what a Mac's boot does, in order: build the
machine's nubs, resolve the installed kexts, fill the catalogue and run matching until the
kernel's job queue is quiet.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iokit_sdk import keys
from iokit_sdk.service import IOService, ServiceState

from iokit_host.clock import HostClock
from iokit_host.errors import Diagnostic, IOKitError, Severity
from iokit_host.kernel.collector import young_collections_only
from iokit_host.kernel.workloop import MAX_SERVICE_DEPTH, IOKernel, depth_past
from iokit_host.matching.catalogue import IOCatalogue
from iokit_host.matching.classes import ClassRegistry
from iokit_host.registry import IORegistry, PathError, from_path, get_path
from iokit_host.settings import env_flag

if TYPE_CHECKING:
    from iokit_host.explain import Explanation
    from iokit_host.kernel.notifications import Notifier
    from iokit_host.kernel.waiting import WaitingEntry
    from iokit_host.kext.bundle import KextBundle
    from iokit_host.kext.loaded import LoadedKext
    from iokit_host.kext.resolver import Resolution
    from iokit_host.machine.model import MachineModel, NubSpec
    from iokit_host.power.manager import PowerManager
    from iokit_host.power.rootdomain import Transition

__all__ = ["BootFailedError", "BootSummary", "IOKitHost", "NoSuchServiceError",
           "NotUnpluggableError", "PlugTooDeepError"]

class BootFailedError(IOKitError):
    reference = "boot-failed-strict"


class NoSuchServiceError(IOKitError):
    reference = "service-not-found"


class PlugTooDeepError(IOKitError):
    """A nub plugged deeper than any registry is (each plug below the last one plugged): its
    path, busy count and lookups cost its depth, so a chain of them cost its square."""

    reference = "plug-too-deep"


class NotUnpluggableError(IOKitError):
    """The IOService plane's root or IOResources: the machine and the kernel, not a device a
    bus could remove (terminating them would end every service)."""

    reference = "service-not-unpluggable"


@dataclass(frozen=True, slots=True)
class BootSummary:
    """The one-line outcome of a boot (what ``iokit boot`` prints last).

    ``kexts_loaded`` counts what ``iokit kextstat -k`` lists; ``refusals`` the manifests, kexts
    and personalities set aside, each reported by a diagnostic (:meth:`IOKitHost.refusals`).
    """

    nubs: int
    drivers_started: int
    kexts_loaded: int
    refusals: int
    waiting: int

    def __str__(self) -> str:
        return (f"{self.nubs} nubs, {self.drivers_started} drivers started, "
                f"{self.kexts_loaded} kexts loaded, {self.refusals} refusals, "
                f"{self.waiting} waiting")


class IOKitHost:
    """One modelled kernel.

    :param machine: a :class:`MachineModel`, a built-in machine's name, a model file or an
        ioreg dump path; None is the built-in default machine.
    :param kexts: kext bundles to use instead of discovering installed distributions
        (only these are loaded; the pytest plugin relies on it).
    :param kext_paths: extra ``Info.plist`` files or kext folders to load as codeless kexts.
    :param defines: values for build placeholders such as ``$(PRODUCT_BUNDLE_IDENTIFIER)``.
    :param strict: make driver and kext failures fatal; None (the default) reads ``IOKIT_STRICT``:
        ``boot`` raises :class:`BootFailedError` at its end.
    :param plugins: host plugins (objects with ``@hookimpl`` methods) to register.
    :param disable_plugins: names of plugins to block (also ``IOKIT_DISABLE_PLUGINS``).
    :param clock: the driven clock; a new one at t=0 when None.
    """

    def __init__(
        self,
        machine: MachineModel | str | Path | None = None,
        *,
        kexts: Sequence[KextBundle] | None = None,
        kext_paths: Sequence[str | Path] = (),
        defines: Mapping[str, str] | None = None,
        strict: bool | None = None,
        plugins: Iterable[object] = (),
        disable_plugins: Iterable[str] = (),
        clock: HostClock | None = None,
    ) -> None:
        self.machine_spec = machine
        self.kext_override = tuple(kexts) if kexts is not None else None
        self.kext_paths = tuple(kext_paths)
        self.defines = dict(defines or {})
        self.strict = env_flag("IOKIT_STRICT") if strict is None else strict
        self.classes = ClassRegistry()
        self.registry = IORegistry()
        self.catalogue = IOCatalogue()
        self.clock = clock if clock is not None else HostClock()
        self.diagnostics: list[Diagnostic] = []
        self.machine: MachineModel | None = None
        self.resolution: Resolution | None = None
        self.booted = False
        self.kernel = IOKernel(registry=self.registry, classes=self.classes,
                               catalogue=self.catalogue, clock=self.clock,
                               diagnostics=self.diagnostics, plugins=plugins,
                               disable_plugins=disable_plugins)

    # -- boot ----------------------------------------------------------------------------------
    def load_machine(self) -> list[IOService]:
        """Build the machine's nubs into the registry; returns the nubs to register."""
        from iokit_host.machine import load_machine
        from iokit_host.machine.build import populate

        model = load_machine(self.machine_spec, strict=self.strict)
        self.machine = model
        self.diagnostics.extend(model.diagnostics)  # what a damaged dump lost, as warnings
        return populate(self, model)

    def boot(self) -> IOKitHost:
        """Machine, kexts, catalogue, then a matching pass on every nub until quiet.

        :raises BootFailedError: in strict mode, when a kext was refused or a driver failed.
        """
        if self.booted:
            return self
        with young_collections_only():  # a boot's objects live on (kernel.collector)
            nubs = self.load_machine()
            self.kernel.ensure_resources()
            self._load_catalogue()
            from iokit_host.dext.placement import publish_user_resources

            publish_user_resources(self.kernel)  # IOUserResources, when a dext is catalogued
            for nub in nubs:
                self.kernel.register_service(nub)
            self.kernel.power.boot()  # IOPMrootDomain, and stand-ins for recorded PM
            self.kernel.run_until_quiet()
        self.booted = True
        if self.strict:
            self.check_strict()
        return self

    def _load_catalogue(self) -> None:
        from iokit_host.kext.resolver import resolve

        bundles = self._bundles()
        self.resolution = resolve(bundles)
        self.kernel.resolution = self.resolution
        self.diagnostics.extend(self.resolution.diagnostics)
        for bundle in self.resolution.load_order:
            self.catalogue.add_bundle(bundle)

    def _bundles(self) -> list[KextBundle]:
        if self.kext_override is not None:
            bundles = list(self.kext_override)
        else:
            from iokit_host.kext.discovery import discover

            found = discover(defines=self.defines or None)
            bundles = list(found.bundles)
            self.diagnostics.extend(found.diagnostics)
        if self.kext_paths:
            bundles += self._given_kexts()
        return bundles

    def _given_kexts(self) -> list[KextBundle]:
        """The kexts given by path (``--kext``), each manifest read once."""
        # Imported here: a boot from the kernel collection reads no manifest itself.
        from iokit_host.kext.manifest import locate_manifest, read_plist_file

        bundles: list[KextBundle] = []
        read: set[str] = set()
        for path in self.kext_paths:
            manifest = locate_manifest(path)
            # One manifest given twice (a folder and its Info.plist, a shell glob, a symlink)
            # is one kext: read again, it claimed its own bundle id against itself.
            if (seen := os.path.realpath(manifest)) in read:
                continue
            read.add(seen)
            bundle, problems = read_plist_file(manifest, defines=self.defines or None)
            self.diagnostics.extend(problems)
            if bundle is not None:
                bundles.append(bundle)
        return bundles

    def failures(self) -> list[Diagnostic]:
        """Diagnostics strict mode fails on: every error (refused kexts, failed drivers)."""
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    def check_strict(self) -> None:
        failures = self.failures()
        if failures:
            raise BootFailedError(
                f"{len(failures)} failure(s) in strict mode; first: {failures[0]}",
                hint="see host.diagnostics; run without strict mode to boot past them")

    # -- lookups -------------------------------------------------------------------------------
    @property
    def waiting(self) -> tuple[WaitingEntry, ...]:
        """Everything that waits, with its reason (parked starts, resources, service waits)."""
        return self.kernel.waiting.entries()

    def find(self, path_or_name: str) -> IOService | None:
        """A service by registry path (``IOService:/...``) or by name, class or ``name@loc``."""
        if ":" in path_or_name.split("/", 1)[0]:
            try:
                found = from_path(self.registry, path_or_name)
            except PathError:
                return None
            return found if isinstance(found, IOService) else None
        for _, entry in self.registry.walk(keys.SERVICE_PLANE):
            if isinstance(entry, IOService) and path_or_name in _names_of(entry):
                return entry
        return None

    def path_of(self, service: IOService) -> str | None:
        return get_path(self.registry, service, keys.SERVICE_PLANE)

    def _service(self, path_or_service: str | IOService) -> IOService:
        if isinstance(path_or_service, IOService):
            return path_or_service
        found = self.find(path_or_service)
        if found is None:
            raise NoSuchServiceError(f"no service {path_or_service!r} in the IOService plane",
                                     key=path_or_service,
                                     hint="give an IOService:/ path or a name from iokit boot")
        return found

    def drivers_of(self, nub: str | IOService) -> list[IOService]:
        """The live drivers matched to ``nub`` (clients carrying an ``IOMatchCategory``)."""
        return [c for c in self._service(nub).get_clients()
                if c.has_property(keys.MATCH_CATEGORY) and not c.is_inactive()]

    def explain(self, path_or_service: str | IOService) -> Explanation:
        from iokit_host.explain import explain

        return explain(self.kernel, self._service(path_or_service))

    def refusals(self) -> list[str]:
        """What this boot set aside (manifests, kexts, personalities), one label each; counted
        from :attr:`diagnostics`, so the summary agrees with what is printed under it."""
        from iokit_host.kext.refusals import refused_items

        return refused_items(self.diagnostics, self._publishes)

    def _publishes(self, bundle_id: str, key: str) -> bool | None:
        """Does the accepted kext ``bundle_id`` publish the personality ``key`` names? One
        without a string ``IOProviderClass`` is not published: IOCatalogue drops it."""
        from iokit_host.kext.refusals import personality_published

        accepted = self.resolution.load_order if self.resolution else ()
        bundle = next((b for b in accepted if b.bundle_id == bundle_id), None)
        if bundle is None:
            return None
        names = [name for name, table in bundle.personalities.items()
                 if isinstance(table.get(keys.PROVIDER_CLASS), str)]
        return personality_published(key, names)

    def loaded_kexts(self) -> tuple[LoadedKext, ...]:
        """What ``kextstat`` lists after this boot: the kernel components, the kexts with a
        started driver and the libraries they link against, in load order (empty before boot).
        """
        from iokit_host.kext.loaded import loaded_kexts

        if self.resolution is None:
            return ()
        loaded = self.kernel.binder.loaded_kexts
        return loaded_kexts(self.resolution, self._kexts_in_use(), load_order=tuple(loaded))

    def _kexts_in_use(self) -> set[str]:
        """Loaded kexts with a live started driver: the kext that defines the driver's class
        (OSMetaClass's kmod), or for a codeless kext's stand-in the kext that published it."""
        loaded = self.kernel.binder.loaded_kexts
        in_use: set[str] = set()
        for driver in self.kernel.binder.started:
            if driver.is_inactive():
                continue
            owner = (self.classes.owner_of(driver.iokit_class_name)
                     or driver.get_property(keys.PERSONALITY_PUBLISHER)
                     or driver.get_property(keys.BUNDLE_IDENTIFIER))
            if isinstance(owner, str) and owner in loaded:
                in_use.add(owner)
        return in_use

    def summary(self) -> BootSummary:
        binder = self.kernel.binder
        # A started driver that registers itself is published too, but it is counted as a
        # driver, not a nub, so the line reads like the machine's hardware plus its drivers.
        # IOPMrootDomain is the kernel's own service (the platform expert starts it), not a nub.
        root_domain = self.kernel.power.root_domain
        nubs = sum(1 for s in self.kernel.services()
                   if s.get_state() & ServiceState.REGISTERED and s not in binder.started
                   and s is not root_domain)
        refused = len(self.refusals())
        # Counted as kextstat -k lists them, so the two commands agree.
        kexts = sum(1 for row in self.loaded_kexts() if not row.kernel_component)
        return BootSummary(nubs, len(binder.started), kexts, refused, len(self.kernel.waiting))

    # -- hot-plug, resources, notifications, waiting -------------------------------------------
    def plug(self, spec: NubSpec | IOService, parent: str | IOService) -> IOService:
        """Attach a nub (and a spec's children) under ``parent``, register it, match at once."""
        from iokit_host.kernel.lifecycle import build_nub

        provider = self._service(parent)
        if depth_past(provider, MAX_SERVICE_DEPTH - 1):
            raise PlugTooDeepError(
                f"{provider.get_name()} is {MAX_SERVICE_DEPTH} providers deep already; no nub "
                "is plugged below it", key=provider.get_name(),
                hint="plug devices under a bus nub, as a machine's tree has them (a few levels)")
        children: tuple[NubSpec, ...]
        if isinstance(spec, IOService):
            nub, children = spec, ()
        else:
            nub, children = build_nub(self.classes, spec), spec.children
        if not self.kernel.attach(nub, provider):
            raise NoSuchServiceError(f"cannot attach under {provider!r}: it is inactive")
        self.kernel.register_service(nub)
        for child in children:
            self.plug(child, nub)
        self.kernel.run_until_quiet()
        return nub

    def unplug(self, path_or_service: str | IOService) -> list[IOService]:
        """Terminate a nub and everything that depends only on it; returns the victims.

        :raises NotUnpluggableError: for the IOService plane's root and IOResources.
        """
        from iokit_host.kernel.termination import terminate

        service = self._service(path_or_service)
        if service.get_provider() is None or service is self.kernel.resources:
            raise NotUnpluggableError(
                f"{service.get_name()} ({service.iokit_class_name}) is the machine or the "
                "kernel itself, not a device a bus can remove", key=str(path_or_service),
                hint="unplug a device nub below the platform expert (iokit ioreg shows them)")
        victims = terminate(self.kernel, service)
        self.kernel.run_until_quiet()
        return victims

    def publish_resource(self, key: str, value: Any = None) -> None:
        self.kernel.publish_resource(key, value)
        self.kernel.run_until_quiet()

    def add_matching_notification(self, kind: str, matching: Mapping[str, Any],
                                  handler: Callable[[IOService], None], *,
                                  priority: int = 0) -> Notifier:
        """Install a notifier (``addMatchingNotification``); existing services are delivered."""
        return self.kernel.notifications.install(kind, matching, handler, priority=priority,
                                                 existing=self.kernel.services())

    # -- power management ------------------------------------------------------------------------
    @property
    def power(self) -> PowerManager:
        """Power management: the root domain, the sleep/wake log, assertions, idle timers."""
        return self.kernel.power

    def sleep(self, reason: str = "Software Sleep") -> Transition:
        """Put the system to sleep (a demand sleep) and return once it is asleep: the power
        tree drops leaves first, late drivers are waited for on the host clock and flagged."""
        return self.kernel.power.sleep(reason)

    def wake(self, reason: str = "User Activity") -> Transition:
        """Wake the system and return once the tree is back up (root first)."""
        return self.kernel.power.wake(reason)

    def advance(self, ms: float) -> None:
        """Move the host clock ``ms`` milliseconds, running the timers that fall due (power
        acknowledgement timeouts, idle timers) and the work they start."""
        self.kernel.power.advance(ms)

    def wait_for_matching_service(self, matching: Mapping[str, Any],
                                  timeout_ns: int | None = None) -> IOService | None:
        """A matched service matching ``matching``, waiting on the host clock up to ``timeout_ns``.

        Waiting runs the clock forward to each timer that falls due before the deadline (events
        scheduled with ``host.clock.call_at``), so a test never sleeps; on timeout the clock
        stands at the deadline and None is returned.
        """
        from iokit_host.kernel.waiting import wait_for_matching_service

        return wait_for_matching_service(self.kernel, matching, timeout_ns)


def _names_of(entry: IOService) -> tuple[str, ...]:
    name = entry.get_name()
    location = entry.get_location()
    return (name, entry.iokit_class_name, f"{name}@{location}" if location else name)
