"""The kernel: one work loop that serialises every registry change and every driver call.

IOKit runs matching on a pool of config threads fed by a FIFO of jobs (``_IOServiceJob``),
serialised per object by work loops and command gates. Here one :class:`IOKernel` per host
runs the same FIFO single-threaded, which keeps IOKit's order between nubs deterministic:
``register_service`` queues a matching pass (or runs it inline with ``SYNCHRONOUS``), a
driver's ``start`` that registers a nub just queues another job, and :meth:`run_until_quiet`
drains the queue. It implements the SDK's :class:`~iokit_sdk.service.Kernel` protocol: every
request a service makes arrives here and leaves as a hook call, so host plugins see it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from types import FunctionType, MethodType
from typing import TYPE_CHECKING, Any, TypeVar

from iokit_sdk import keys
from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.service import SYNCHRONOUS, IOResources, IOService, ServiceState

from iokit_host.errors import Diagnostic, Severity, quoted
from iokit_host.kernel import lifecycle, termination
from iokit_host.kernel.binding import Binder
from iokit_host.kernel.collection_watch import collections_watched
from iokit_host.kernel.driver_calls import DriverCalls, DriverFault, service_name
from iokit_host.kernel.interest import Interest, InterestHandler, InterestNotifier
from iokit_host.kernel.job_checks import JobChecks, Period, Work
from iokit_host.kernel.notifications import NOTIFICATION_TYPES, Notifications, Notifier
from iokit_host.kernel.notifier_quota import NotificationLimit, NotifierQuota, handler_owner
from iokit_host.kernel.plugins import make_plugin_manager
from iokit_host.kernel.waiting import WaitingQueue
from iokit_host.kernel.watchdog import Watchdog
from iokit_host.matching.passive import compile_plan, match_passive
from iokit_host.matching.sealed import SealedMethodError, check_class
from iokit_host.power.manager import PowerManager

if TYPE_CHECKING:
    from iokit_host.clock import HostClock
    from iokit_host.kext.resolver import Resolution
    from iokit_host.matching.catalogue import IOCatalogue
    from iokit_host.matching.classes import ClassRegistry
    from iokit_host.registry import IORegistry

__all__ = ["MAX_DRIVER_CHAIN", "MAX_SERVICE_DEPTH", "IOKernel", "depth_past"]

Job = Callable[[], None]
T = TypeVar("T")
_NOTIFICATION_HOOKS = {kind: f"iokit_{kind}" for kind in NOTIFICATION_TYPES}


#: Said of a notifier whose handler hung: removed, as a dext that hangs is killed.
_REMOVED = "; the handler hung, so its notifier was removed"
#: Faults of a handler that re-enters the kernel without end: it meets them again at every
#: delivery, thousands of times; each handler's first is reported, the rest only counted.
_RUNAWAY = frozenset({"notification-limit", "driver-calls-nested"})


def _runaway(fault: DriverFault) -> str | None:
    error = fault.error
    reference = error.ref if isinstance(error, NotificationLimit) else fault.reference("")
    return reference if reference in _RUNAWAY else None


def _runaway_note(fault: DriverFault) -> str:
    return "; later refusals of this handler are counted, not reported" \
        if _runaway(fault) is not None else ""

#: How many providers deep a nub may be plugged: no Mac's IOService plane is more than a few
#: dozen (a dump's reader keeps 256 levels too; a model may be deeper, built whole).
MAX_SERVICE_DEPTH = 256
#: How many drivers may stand on one another, each matched on the one before, and the last
#: still be matched: a real stack is a dozen or two (USB's: host controller, hub, device,
#: interface, function).
MAX_DRIVER_CHAIN = 256


def _driver_chain_past(service: IOService, limit: int) -> bool:
    """Whether ``service`` and the providers right above it are more than ``limit`` drivers
    (entries a personality made: they carry its ``CFBundleIdentifier``). A model's nubs
    carry none, so a model of any depth matches; the walk stops at the first of them."""
    node: IORegistryEntry | None = service
    for _ in range(limit + 1):
        if node is None or not isinstance(node.get_property("CFBundleIdentifier"), str):
            return False
        node = node.get_parent_entry()
    return True


def depth_past(service: IOService, limit: int) -> bool:
    """Whether ``service`` has more than ``limit`` providers above it (a walk up of at most
    ``limit`` steps)."""
    node = service.get_parent_entry()
    for _ in range(limit):
        if node is None:
            return False
        node = node.get_parent_entry()
    return node is not None


class IOKernel:
    """The work loop of one host; services reach it as ``service._kernel``.

    :param plugins: host plugins to register beside the entry-point ones.
    :param disable_plugins: plugin names to block.
    :param load_entry_points: False to skip the ``iokit`` entry-point group (tests).
    :param watchdog: watches driver calls; one with ``IOKIT_DRIVER_TIMEOUT``'s limit when None.
    """

    def __init__(self, *, registry: IORegistry, classes: ClassRegistry, catalogue: IOCatalogue,
                 clock: HostClock, diagnostics: list[Diagnostic] | None = None,
                 plugins: Iterable[object] = (), disable_plugins: Iterable[str] = (),
                 load_entry_points: bool = True, resolution: Resolution | None = None,
                 watchdog: Watchdog | None = None) -> None:
        self.registry = registry
        self.classes = classes
        self.catalogue = catalogue
        self.clock = clock
        self.diagnostics = diagnostics if diagnostics is not None else []
        self.resolution = resolution
        if watchdog is None:
            watchdog, problem = Watchdog.from_env()
            if problem is not None:
                self.report(problem)
        #: Every call into driver code goes through it (exceptions, SystemExit, the watchdog).
        self.driver_calls = DriverCalls(watchdog, self.report)
        quota = NotifierQuota()  # one per kernel: a kext's matching and interest notifiers
        #: (reference, handler) -> how often a handler re-entering without end was refused.
        self.runaway_faults: dict[tuple[str, str], int] = {}
        self.notifications = Notifications(self._deliver_guarded, quota)
        self.interest = Interest(self._deliver_interest_guarded, quota)
        self.waiting = WaitingQueue()
        self.plugin_manager = make_plugin_manager(
            self, plugins=plugins, disable=disable_plugins, load_entry_points=load_entry_points,
            report=self.report)
        self.hook = self.plugin_manager.hook
        self.binder = Binder(self)
        self.resources: IOService | None = None
        self.resource_generation = 0
        self._jobs: deque[Job] = deque()
        #: Jobs other threads queued: each :meth:`run_until_quiet` takes those already there
        #: when it begins, so a driver's thread queueing without end cannot keep it running.
        self._from_threads: deque[Job] = deque()
        #: The work loop's thread, and what wakes it when another thread queues a job
        #: (:meth:`wake_for_threads`); none: the next :meth:`run_until_quiet` runs it.
        self._loop_thread = threading.get_ident()
        self._waker: Callable[[], None] | None = None
        self._queued: set[int] = set()
        self._busy_since: dict[int, int] = {}
        #: Classes checked at attach (matching.sealed): True when they may be attached.
        self._attachable: dict[type, bool] = {}
        #: The checks :meth:`run_checked` shares within :meth:`checking`.
        self._period: Period | None = None
        #: Power management (IOServicePM's work loop and IOPMrootDomain): ``service._kernel.power``.
        self.power = PowerManager(self, post=self.post)

    # -- the Kernel protocol: what services ask ---------------------------------------------
    # Each leaves through its hook (plugin_manager.caller: the built-in plugin's method itself
    # while nothing else could see the call).
    def attach(self, service: IOService, provider: IOService) -> bool:
        return bool(self.plugin_manager.caller("iokit_attach")(service=service,
                                                               provider=provider))

    def detach(self, service: IOService, provider: IOService) -> None:
        self.plugin_manager.caller("iokit_detach")(service=service, provider=provider)

    def register_service(self, service: IOService, options: int = 0) -> None:
        self.plugin_manager.caller("iokit_register_service")(service=service, options=options)

    def terminate(self, service: IOService, options: int = 0) -> bool:
        termination.terminate(self, service, options)
        return True

    def publish_resource(self, key: str, value: Any = None) -> None:
        """Set ``key`` on IOResources, wake starts parked on it and re-match IOResources."""
        resources = self.ensure_resources()
        resources.set_property(key, value if value is not None else "IOService")
        self.resource_generation += 1
        for parked in self.waiting.release_ready(resources.properties):
            self.post(partial(self.binder.resume, parked))
        self.register_service(resources)

    def add_matching_notification(self, kind: str, matching: Mapping[str, Any],
                                  handler: Callable[[IOService], None],
                                  priority: int = 0) -> Notifier:
        """A driver's ``add_matching_notification``: existing services are delivered; the
        handler's kext's quota counts it (:mod:`.notifier_quota`)."""
        return self.notifications.install(kind, matching, handler, priority=priority,
                                          existing=self.services(),
                                          kext=self._kext_of(handler))

    def register_interest(self, service: IOService, handler: InterestHandler
                          ) -> InterestNotifier:
        """A driver's ``register_interest`` (``registerInterest``, general interest)."""
        return self.interest.install(service, handler, kext=self._kext_of(handler))

    def _kext_of(self, handler: Callable[..., Any]) -> str:
        packages = {bundle.package: bundle_id for bundle_id, bundle
                    in self.binder.loaded_kexts.items() if bundle.package is not None}
        return handler_owner(handler, packages)

    def message_clients(self, service: IOService, message_type: int,
                        argument: Any = None) -> None:
        """``messageClients``: each client's ``message`` (through the hook), then the
        interest notifiers; a driver that raises or hangs is reported, the others told."""
        for client in service.get_clients():
            fault = self.driver_calls.call_discarding(partial(
                self.hook.iokit_message, service=client, provider=service,
                message_type=message_type, argument=argument))
            if isinstance(fault, DriverFault):
                self.report(Diagnostic(
                    fault.reference("driver-message-raised"),
                    f"message 0x{message_type & 0xFFFFFFFF:08x} to {service_name(client)}: "
                    f"{fault.reason('message')}", subject=client.iokit_class_name,
                    hint="the other clients were told", context={"exception": fault.error}))
        self.interest.deliver(service, message_type, argument)

    # -- what the built-in plugin does for attach, detach and register_service ----------------
    def link(self, service: IOService, provider: IOService) -> bool:
        """Make the IOService-plane link (``attach``); refused on an inactive provider."""
        if provider.is_inactive():
            return False
        kind = type(service)
        allowed = self._attachable.get(kind)
        if allowed is None:
            allowed = self._attachable[kind] = self._may_attach(kind)
        if not allowed:
            return False
        self.registry.attach(service, provider, keys.SERVICE_PLANE)
        service._kernel = self
        return True

    def _may_attach(self, kind: type) -> bool:
        """A class met first here (not registered by its kext) is checked as a registered
        one is; refused once, with the diagnostic, and never attached."""
        try:
            check_class(kind)
        except SealedMethodError as error:
            self.report(error.diagnostic)
            return False
        return True

    def unlink(self, service: IOService, provider: IOService) -> None:
        self.registry.detach(service, provider, keys.SERVICE_PLANE)

    def start_matching(self, service: IOService, options: int = 0) -> bool:
        """Queue (or with ``SYNCHRONOUS`` run) a matching pass on ``service`` (``startMatching``)."""
        if service.is_inactive():
            return False
        if not lifecycle.is_registry_member(self.registry, service):
            self.report(Diagnostic(
                "service-not-registry-member", "register_service on a service that is not "
                "attached up to the registry root", subject=repr(service),
                hint="attach the nub to its provider before calling register_service()",
                severity=Severity.WARNING))
            return False
        service._kernel = self
        if options & SYNCHRONOUS:
            self.adjust_busy(service, +1)
            self.binder.match_nub(service)
        elif id(service) not in self._queued:
            self.adjust_busy(service, +1)
            self._queued.add(id(service))
            self.post(partial(self._run_match_job, service))
        return True

    def _run_match_job(self, service: IOService) -> None:
        self._queued.discard(id(service))
        if _driver_chain_past(service, MAX_DRIVER_CHAIN):
            self._refuse_too_deep(service)
            return
        self.binder.match_nub(service)

    def _refuse_too_deep(self, service: IOService) -> None:
        """A nub deeper than any registry is, not matched: a driver that registers itself and
        matches its own class (or a chain of such) would otherwise match without end."""
        bundle = service.get_property("CFBundleIdentifier")
        by = f" (started from {quoted(bundle)})" if isinstance(bundle, str) else ""
        self.report(Diagnostic(
            "matching-too-deep", f"{service.iokit_class_name}{by} is the last of a chain of "
            f"more than {MAX_DRIVER_CHAIN} drivers, each started on the one before; it is not "
            "matched",
            subject=service.iokit_class_name, severity=Severity.WARNING,
            hint="a driver that registers itself must not match its own class (its "
                 "IOProviderClass), or every instance makes another"))

    def notify(self, kind: str, service: IOService) -> None:
        """Fire the ``iokit_<kind>`` matching notification on ``service``.

        Skipped when nothing could see it: only the built-in plugin implements the hook, no
        monitor traces hook calls, and no notifier of ``kind`` is installed -- as IOKit's
        ``deliverNotification`` walks an empty set. A boot fires four per nub, so this is a
        measurable share of it (the ``bench`` env)."""
        name = _NOTIFICATION_HOOKS[kind]
        if not self.notifications.installed(kind) and self.plugin_manager.builtin_alone(name):
            return
        getattr(self.hook, name)(service=service)

    # -- the work loop -------------------------------------------------------------------------
    def run_until_quiet(self) -> int:
        """Run queued jobs in FIFO order until none is left; returns how many ran.

        The watchdog is armed meanwhile: a driver call that hangs in the main thread, even
        in a blocking sleep, is interrupted (and the signal handler put back afterwards)."""
        ran = 0
        jobs = self._jobs
        arrived = self._from_threads
        for _ in range(len(arrived)):  # what other threads queued so far, in their order
            jobs.append(arrived.popleft())
        if not jobs:
            return ran
        watchdog = self.driver_calls.watchdog
        checks = JobChecks(self.driver_calls.seal, self.report, watchdog.tokens)
        try:
            with watchdog.armed(), collections_watched(watchdog, self.report):
                while jobs:
                    job = jobs.popleft()
                    job()
                    ran += 1
                    checks.after(job)
        finally:
            checks.close()
        return ran

    def run_checked(self, work: Callable[[], T], where: str,
                    service: IOService | None = None) -> T:
        """Run ``work``, driver code run outside the work loop's jobs (the PM work queue, a
        client's request), then check what it changed in the host and put it back, as after
        a job; the warning says ``where`` it ran and, when given, whose driver code it was
        (``service``). Returns what ``work`` returns. Within :meth:`checking` the period's
        checks are used (:class:`~.job_checks.Period`)."""
        period = self._period
        if period is not None:
            return period.run(work, where, service)
        job = Work(work, where, service)
        checks = JobChecks(self.driver_calls.seal, self.report)
        try:
            return work()
        finally:
            checks.after(job)
            checks.close()

    @contextmanager
    def checking(self) -> Iterator[None]:
        """A period of many :meth:`run_checked` calls (a running kernel's requests) sharing
        one set of checks, compared with the host as it was when the period began instead of
        taking a picture of it each time (tens of microseconds, more than a call)."""
        if self._period is not None:
            yield
            return
        self._period = Period(JobChecks(self.driver_calls.seal, self.report), self.diagnostics)
        try:
            with collections_watched(self.driver_calls.watchdog, self.report):
                yield
        finally:
            self._period.close()
            self._period = None

    def pending_jobs(self) -> int:
        return len(self._jobs) + len(self._from_threads)

    def on_loop_thread(self) -> bool:
        """Is the calling thread the work loop's (the running kernel's loop, or else the
        thread that made this kernel and drives it)?"""
        return threading.get_ident() == self._loop_thread

    def post(self, job: Job) -> None:
        """Queue ``job`` on the work loop, from any thread: a driver's own thread (its
        ``register_service``, a power change it asks for) wakes the loop, as xnu's matching
        thread and PM work loop run what any thread schedules, not when a client next asks."""
        if threading.get_ident() == self._loop_thread:
            self._jobs.append(job)
            return
        self._from_threads.append(job)  # a deque: safe from any thread
        waker = self._waker
        if waker is not None:
            waker()

    def wake_for_threads(self, waker: Callable[[], None] | None) -> None:
        """The calling thread is the work loop's; ``waker`` (never blocking) wakes it when
        another thread queues a job (None: nothing to wake)."""
        self._loop_thread = threading.get_ident()
        self._waker = waker

    def adjust_busy(self, service: IOService, delta: int) -> None:
        lifecycle.adjust_busy(service, delta, self.clock, self._busy_since)

    def report(self, diagnostic: Diagnostic) -> None:
        self.diagnostics.append(diagnostic)

    def _deliver_guarded(self, notifier: Notifier, service: IOService) -> None:
        """Call one notification handler as a driver call: its failure is reported and the
        other handlers, and the matching pass, go on."""
        fault = self.driver_calls.call_discarding(notifier.handler, service)
        if isinstance(fault, DriverFault) and self._first_of_runaway(fault, notifier.handler):
            self.report(Diagnostic(
                fault.reference("notification-handler-raised"),
                f"{notifier.kind} notification for {service_name(service)}: "
                f"{fault.reason(_handler_name(notifier.handler))}",
                subject=service.iokit_class_name, key=notifier.kind,
                hint="the other handlers were called and the boot went on"
                     + _REMOVED * fault.timed_out + _runaway_note(fault),
                context={"exception": fault.error}))
            if fault.timed_out:  # it would cost the limit again at every later service
                notifier.remove()

    def _deliver_interest_guarded(self, notifier: InterestNotifier, message_type: int,
                                  service: IOService, argument: Any) -> None:
        fault = self.driver_calls.call_discarding(notifier.handler, message_type, service,
                                                  argument)
        if isinstance(fault, DriverFault) and self._first_of_runaway(fault, notifier.handler):
            self.report(Diagnostic(
                fault.reference("notification-handler-raised"),
                f"interest notification 0x{message_type & 0xFFFFFFFF:08x} for "
                f"{service_name(service)}: {fault.reason(_handler_name(notifier.handler))}",
                subject=service.iokit_class_name, key="interest",
                hint="the other handlers were told" + _REMOVED * fault.timed_out
                     + _runaway_note(fault), context={"exception": fault.error}))
            if fault.timed_out:  # it would cost the limit again at every later message
                notifier.remove()

    def _first_of_runaway(self, fault: DriverFault, handler: Callable[..., Any]) -> bool:
        """False for a handler's repeated refusal for re-entering without end (counted)."""
        reference = _runaway(fault)
        if reference is None:
            return True
        key = (reference, _handler_name(handler))
        seen = self.runaway_faults.get(key, 0)
        self.runaway_faults[key] = seen + 1
        return not seen

    def forget(self, service: IOService) -> None:
        """Drop what the matching pass remembers of a freed ``service``."""
        self.binder.forget(service)

    # -- IOResources and lookups ---------------------------------------------------------------
    def ensure_resources(self) -> IOService:
        """The IOResources nub under the IOService-plane root, created when the machine has none."""
        if self.resources is not None:
            return self.resources
        root = self.registry.plane_root(keys.SERVICE_PLANE)
        if not isinstance(root, IOService):
            raise RuntimeError("the machine has no IOService-plane root yet")  # noqa: TRY004 - a state error, not a type error
        found = next((c for c in root.get_child_entries() if isinstance(c, IOService)
                      and c.meta_cast(keys.RESOURCES_CLASS)), None)
        if found is None:
            cls = self.classes.lookup(keys.RESOURCES_CLASS) or IOResources
            found = cls()  # type: ignore[assignment]
            assert isinstance(found, IOService)
            self.link(found, root)
        found._kernel = self
        self.resources = found
        return found

    def services(self) -> list[IOService]:
        """Every service in the IOService plane, depth-first."""
        return [e for _, e in self.registry.walk(keys.SERVICE_PLANE)
                if isinstance(e, IOService)]

    def copy_matching_services(self, matching: Mapping[str, Any]) -> list[IOService]:
        """Matched, active services that passively match (``getMatchingServices``).

        The dictionary is compiled once, not once per service (an ``IOPropertyMatch`` of
        200,000 keys cost 0.5 s over 59 services); an ``IOPathMatch`` path is looked up once
        and only what it finds (or what records that ``IOPath``) is matched further, as xnu's
        ``copyExistingServices`` does (a 3 MB path was parsed again for every service)."""
        services = self.services()
        path = matching.get(keys.PATH_MATCH)
        if isinstance(path, str):
            found = _path_entry(self.registry, path)
            services = [s for s in services
                        if s is found or s.get_property("IOPath") == path]
        plan = compile_plan(matching)
        return [s for s in services
                if s.get_state() & ServiceState.MATCHED and not s.is_inactive()
                and match_passive(matching, s, registry=self.registry, plan=plan).matched]


def _path_entry(registry: IORegistry, path: str) -> IORegistryEntry | None:
    """What ``path`` names in the IOService plane (the plane a path without one is read in
    by ``IOPathMatch``), or None."""
    from iokit_host.registry import PathError, from_path
    try:
        return from_path(registry, path, keys.SERVICE_PLANE)
    except PathError:
        return None


def _handler_name(handler: Callable[..., Any]) -> str:
    """``handler package.function`` (the driver's package names whose it is); read only
    from a function or method, as another object's attributes may be the driver's code."""
    function = handler.__func__ if isinstance(handler, MethodType) else handler
    if not isinstance(function, FunctionType):
        return f"the handler, a {type(handler).__name__}"
    module = function.__module__  # settable to anything; a qualname is always a str
    return f"handler {module if type(module) is str else '?'}.{function.__qualname__}"
