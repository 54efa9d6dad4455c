"""PowerManager: one host's power management (IOServicePM's PM work loop plus IOPMrootDomain).

It implements the SDK's :class:`~iokit_sdk.pm.PowerRequests` (every ``pm_init``,
``register_power_driver``, ``change_power_state_to``, acknowledgement ... a driver makes
arrives here), owns the per-service blocks, the PM work queue, the sleep/wake log, the
assertions and the root domain, and gives the host its controls (:mod:`.controls`:
:meth:`sleep`, :meth:`wake`, :meth:`idle_sleep`, :meth:`create_assertion`, :meth:`tickle`,
:meth:`advance`, :meth:`run_until_idle` ...). At boot it publishes the root domain and adopts
what the machine recorded (:mod:`.boot`).

PM work never runs inside a driver's call: a request made from driver code (``start``,
``set_power_state``, ``message``) is queued and the work runs when that call has returned, as
IOKit's PM work loop runs beside the driver's thread; a request from elsewhere on the work
loop's thread (a test, the host) runs at once. Nor does it run on a thread of the driver's own:
``changePowerStateTo`` there only checks its arguments and submits the request
(``submitPMRequest``) for the PM work loop, and so here a request from any thread but the work
loop's is checked, answered and queued whole on the kernel's work loop (:meth:`_submitted`),
which it wakes: the running kernel's loop runs it at once, a host with no loop running (a test,
a script) at its next ``run_until_quiet`` (``run_until_idle``, ``advance``, ``sleep`` ...), never
the asking thread beside the one driving the host. ``run_until_idle`` drives the host clock from timer to timer while a change
waits for an acknowledgement, so ``host.sleep()`` returns with the sleep complete, late drivers
flagged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from iokit_sdk.power import IOPMPowerState, kIOPMNotYetInitialized, kIOPMPreventIdleSleep
from iokit_sdk.returns import IOReturn
from iokit_sdk.service import IOService

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.driver_calls import service_name
from iokit_host.power.acks import Answers
from iokit_host.power.assertions import Assertions
from iokit_host.power.boot import adopt_recorded, publish_root_domain
from iokit_host.power.change import Changes
from iokit_host.power.controls import HostControls
from iokit_host.power.idle import IdleTimers
from iokit_host.power.log import PowerLog
from iokit_host.power.messages import SleepWakeClients
from iokit_host.power.pm import CHILD_PROXY, DEVICE, DRIVER, POWER_MANAGEMENT, ServicePM
from iokit_host.power.queue import Task, WorkQueue
from iokit_host.power.request_budget import RequestBudget
from iokit_host.power.rootdomain import IOPMrootDomain, SystemPower
from iokit_host.power.tables import check_table
from iokit_host.power.tree import IOPowerConnection, IORootParent, link, power_parent_for, unlink
from iokit_host.registry import RegistryError
from iokit_host.userclient.rootdomain import RootDomainUserClient

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop
    from iokit_host.power.queue import Ack

__all__ = ["KERNEL_BUNDLE", "PowerManager"]

#: OSKext's name for the kernel itself, which owns the root domain's classes.
KERNEL_BUNDLE = "__kernel__"
#: ``kIOPMPowerStateMax``: "the highest state", before the table is known.
_STATE_MAX = 0xFFFF_FFFF

Job = Callable[[], None]


class PowerManager(HostControls):
    """Power management for the kernel ``kernel``.

    :param post: queues a job on the kernel's work loop (PM work asked for inside a driver call
        runs there, after the call).
    """

    def __init__(self, kernel: WorkLoop, post: Callable[[Job], None]) -> None:
        self.kernel = kernel
        self.clock = kernel.clock
        self.log = PowerLog(kernel.registry)
        self.queue = WorkQueue(self._task_failed)
        self.assertions = Assertions()
        self._pms: dict[int, ServicePM] = {}
        self._interest: dict[int, list[ServicePM]] = {}
        self._answers = Answers(self)
        self.changes = Changes(self, self._answers)
        self.idle = IdleTimers(self, self.changes.request_adjust)
        self.changes.on_changed.append(self.idle.changed)
        self.clients = SleepWakeClients(self, self._answers)
        self.system = SystemPower(self, self.changes, self.clients, self.idle, self.assertions,
                                  self.describe_waits)
        self.system.idle_preventers = self.idle_sleep_preventers
        self._post = post
        self._posted = False
        #: Services whose ``pm_init`` a driver's thread queued for the loop, by id.
        self._initialising: set[int] = set()
        #: Each service's requests while PM has work: a driver asking without end is refused.
        self.requests = RequestBudget(kernel.report)
        kernel.classes.register_kext_classes(
            KERNEL_BUNDLE, (IOPMrootDomain, IORootParent, IOPowerConnection,
                            RootDomainUserClient))

    # -- the host's view ----------------------------------------------------------------------------
    @property
    def root_domain(self) -> IOService | None:
        return self.system.root.service if self.system.root is not None else None

    @property
    def asleep(self) -> bool:
        return self.system.asleep

    def pm_of(self, service: IOService) -> ServicePM | None:
        return self._pms.get(id(service))

    def managed(self) -> list[ServicePM]:
        """Every power-managed service's block, in the order they joined."""
        return list(self._pms.values())

    def idle_sleep_preventers(self) -> list[IOService]:
        """Services whose current state has ``kIOPMPreventIdleSleep``: they hold idle sleep
        off, as IOPMrootDomain's ``preventIdleSleepList`` (``pmset``'s "Idle sleep
        preventers")."""
        return [pm.service for pm in self._pms.values()
                if pm.table is not None and pm is not self.system.root
                and pm.capability_flags() & kIOPMPreventIdleSleep]

    def power_state(self, service: IOService) -> int:
        pm = self._pms.get(id(service))
        return pm.current if pm is not None else 0

    # -- boot --------------------------------------------------------------------------------------------
    def boot(self) -> None:
        """Publish IOPMrootDomain (and IORootParent) and give every service the machine records
        as power managed its stand-in (:mod:`.standins`)."""
        self.publish_root_domain()
        self.adopt_recorded()

    def publish_root_domain(self) -> IOService | None:
        """IOPMrootDomain under the platform expert, ON (:mod:`.boot`)."""
        return publish_root_domain(self)

    def adopt_recorded(self) -> int:
        """Stand-in power management for every entry recording ``IOPowerManagement``
        (:mod:`.boot`); how many."""
        return adopt_recorded(self)

    def add_block(self, pm: ServicePM) -> None:
        """Manage ``pm``'s service with ``pm`` (a block made at boot)."""
        self._pms[id(pm.service)] = pm

    # -- PowerRequests: joining and leaving -----------------------------------------------------------
    def pm_init(self, service: IOService) -> None:
        if id(service) in self._pms:
            return
        if not self.kernel.on_loop_thread():  # the loop walks the blocks: it adds them too
            self._initialising.add(id(service))
            self._post(partial(self._init_submitted, service))
            return
        if id(service) not in self._pms:
            pm = ServicePM(service)
            self._pms[id(service)] = pm
            pm.publish()

    def _init_submitted(self, service: IOService) -> None:
        self._initialising.discard(id(service))
        self.pm_init(service)

    def _known(self, service: IOService) -> bool:
        """Power managed, or about to be (its ``pm_init`` queued from a driver's thread)."""
        return id(service) in self._pms or id(service) in self._initialising

    def join_pm_tree(self, provider: IOService, driver: IOService) -> None:
        if self._submitted(partial(self.join_pm_tree, provider, driver)):
            return
        if not isinstance(driver, IOService):
            self._answers.fault(provider, f"join_pm_tree({driver!r}): not an IOService", None)
            return
        self.pm_init(driver)
        child = self._pms[id(driver)]
        if child.parents:
            return  # already in the tree
        parent = power_parent_for(provider, self.pm_of, self.system.root)
        if parent is child:  # called on the driver itself: look above it
            above = provider.get_provider()
            parent = power_parent_for(above, self.pm_of, self.system.root) \
                if above is not None else self.system.root
        if parent is None or parent is child or not self.join(parent, child):
            return
        if CHILD_PROXY in parent.clients and len(parent.children) == 1:
            parent.drop_client(CHILD_PROXY)  # temporaryPowerClampOn lasts until a child joins
            self.changes.request_adjust(parent)
        if child.table is not None and not child.initial_pending:
            self.changes.set_request(parent, child.parents[-1], _request_for(parent, child))
        self.changes.start_initial(child)
        self.kick()

    def register_power_driver(self, service: IOService, driver: IOService,
                              states: Sequence[IOPMPowerState]) -> int:
        if self._known(service) and self._submitted(
                partial(self.register_power_driver, service, driver, states)):
            valid = isinstance(driver, IOService) and check_table(
                states, driver.iokit_class_name)[0] is not None  # said when the loop runs it
            return IOReturn.SUCCESS if valid else IOReturn.BAD_ARGUMENT
        pm = self._pms.get(id(service))
        if pm is None:
            return kIOPMNotYetInitialized
        if pm.table is not None:
            return IOReturn.SUCCESS  # only the first registration counts
        if not isinstance(driver, IOService):
            self._answers.fault(service, f"register_power_driver({driver!r}): the driver is "
                                         "not an IOService", None)
            return IOReturn.BAD_ARGUMENT
        table, problems = check_table(states, driver.iokit_class_name)
        if table is None:
            for problem in problems:
                self.kernel.report(problem)
            self._answers.fault(driver, f"power-state table refused: {problems[0].message}",
                                None)
            return IOReturn.BAD_ARGUMENT
        pm.table = table
        pm.driver = driver
        pm.current = 0
        pm.changed()
        for name, value in list(pm.clients.items()):
            pm.set_client(name, table.clamp(value))
        if _overrides_notifications(driver) and driver not in pm.informees:
            self._add_informee(pm, driver)
        pm.initial_pending = True
        pm.publish()
        self.changes.start_initial(pm)
        self.kick()
        return IOReturn.SUCCESS

    def pm_stop(self, service: IOService) -> None:
        if self._submitted(partial(self.pm_stop, service)):
            return
        self.clients.forget(service)
        for watched in self._interest.pop(id(service), ()):
            self._drop_informee(watched, service)
        pm = self._pms.pop(id(service), None)
        if pm is None:
            return
        pm.stopped = True
        self.idle.stop(pm)
        self.log.keep_path(service)
        for ack in (pm.pending_set, *pm.pending_informees.values()):
            if ack is not None:
                self._answers.close(pm, ack, "the service stopped power management")
        registry = self.kernel.registry
        for connection in tuple(pm.parents):
            if connection.parent_pm is not None:
                self.changes.set_request(connection.parent_pm, connection, None)
            unlink(registry, connection)
        for connection in tuple(pm.children):
            unlink(registry, connection)
        for informee in pm.informees:
            interested_in = self._interest.get(id(informee))
            if interested_in is not None and pm in interested_in:
                interested_in.remove(pm)
        self.changes.wake_waiters(pm)
        service._props.pop(POWER_MANAGEMENT, None)
        if pm is self.system.root:
            self.system.root = None
        self.kick()

    # -- PowerRequests: the controlling driver and interested drivers ---------------------------------
    def acknowledge_set_power_state(self, service: IOService, ordinal: int | None = None) -> int:
        if self._submitted(partial(self.acknowledge_set_power_state, service, ordinal)):
            return IOReturn.SUCCESS if self._known(service) else kIOPMNotYetInitialized
        pm = self._pms.get(id(service))
        if pm is None:
            self._answers.fault(service, "acknowledge_set_power_state on a service that is not "
                                         "power managed; ignored", ordinal)
            return kIOPMNotYetInitialized
        ok = self._answers.acknowledge_set(pm, ordinal)
        return IOReturn.SUCCESS if ok else IOReturn.BAD_ARGUMENT

    def register_interested_driver(self, service: IOService, driver: IOService) -> int:
        pm = self._pms.get(id(service))
        if pm is None or not isinstance(driver, IOService):
            self._answers.fault(service, "register_interested_driver on a service that is not "
                                         "power managed, or with no driver; ignored", None)
            return 0
        if self._submitted(partial(self.register_interested_driver, service, driver)):
            return pm.capability_flags()
        if driver not in pm.informees:
            self._add_informee(pm, driver)
        return pm.capability_flags()

    def deregister_interested_driver(self, service: IOService, driver: IOService) -> int:
        pm = self._pms.get(id(service))
        if pm is None or driver not in pm.informees:
            return IOReturn.BAD_ARGUMENT
        if self._submitted(partial(self.deregister_interested_driver, service, driver)):
            return IOReturn.SUCCESS
        self._drop_informee(pm, driver)
        watched = self._interest.get(id(driver))
        if watched is not None and pm in watched:
            watched.remove(pm)
        return IOReturn.SUCCESS

    def acknowledge_power_change(self, service: IOService, driver: IOService) -> int:
        if self._submitted(partial(self.acknowledge_power_change, service, driver)):
            return IOReturn.SUCCESS if self._known(service) else kIOPMNotYetInitialized
        pm = self._pms.get(id(service))
        if pm is None:
            self._answers.fault(driver, "acknowledge_power_change on a service that is not "
                                        "power managed; ignored", None)
            return kIOPMNotYetInitialized
        ok = self._answers.acknowledge_change(pm, driver)
        return IOReturn.SUCCESS if ok else IOReturn.BAD_ARGUMENT

    # -- PowerRequests: desires ------------------------------------------------------------------------
    def change_power_state_to(self, service: IOService, ordinal: int) -> int:
        return self._request(service, DRIVER, ordinal, "change_power_state_to")

    def change_power_state_to_priv(self, service: IOService, ordinal: int) -> int:
        return self._request(service, DEVICE, ordinal, "change_power_state_to_priv")

    def make_usable(self, service: IOService) -> int:
        return self._request(service, DEVICE, _STATE_MAX, "make_usable")

    def temporary_power_clamp_on(self, service: IOService) -> int:
        return self._request(service, CHILD_PROXY, _STATE_MAX, "temporary_power_clamp_on")

    def activity_tickle(self, service: IOService, policy: int, state: int) -> bool:
        if self.requests.spent(service) and not self.kernel.on_loop_thread():
            return False  # a thread tickling without end: nothing more queued
        if self._known(service) and self._submitted(
                partial(self.activity_tickle, service, policy, state)):
            pm = self._pms.get(id(service))
            return pm is not None and self.idle.is_at(pm, policy, state)
        pm = self._pms.get(id(service))
        if pm is None or pm.stopped:
            return False
        if not self.requests.take(service, "activity_tickle"):
            return False
        if pm.calling and type(state) is int:
            self._note_nested(pm, "activity_tickle", state)
        queued_rise = not self.idle.tickle(pm, policy, state)
        self.kick()
        return not queued_rise

    def set_idle_timer_period(self, service: IOService, seconds: int) -> int:
        if self._known(service) and self._submitted(
                partial(self.set_idle_timer_period, service, seconds)):
            return IOReturn.SUCCESS if self.idle.period_ok(seconds) else IOReturn.BAD_ARGUMENT
        pm = self._pms.get(id(service))
        if pm is None:
            return kIOPMNotYetInitialized
        return self.idle.set_period(pm, seconds)

    def get_power_state(self, service: IOService) -> int:
        return self.power_state(service)

    # -- PowerRequests: system messages ----------------------------------------------------------------
    def register_priority_sleep_wake_interest(self, service: IOService) -> int:
        if self._submitted(partial(self.register_priority_sleep_wake_interest, service)):
            return IOReturn.SUCCESS
        return self.clients.register(service)

    def allow_power_change(self, service: IOService, ref: int) -> int:
        if self._submitted(partial(self.allow_power_change, service, ref)):
            return IOReturn.SUCCESS
        return self.clients.answer(service, ref, allow=True)

    def cancel_power_change(self, service: IOService, ref: int) -> int:
        if self._submitted(partial(self.cancel_power_change, service, ref)):
            return IOReturn.SUCCESS
        return self.clients.answer(service, ref, allow=False)

    @property
    def busy(self) -> bool:
        """PM work is ready, waiting for an answer, or a system transition is pending."""
        return bool(self.queue) or self.queue.waiting > 0 or self.system.busy

    # -- PowerContext ---------------------------------------------------------------------------------------
    def kick(self) -> None:
        if self.queue.running:
            return  # the loop already running picks the work up
        if not self.kernel.on_loop_thread():
            self._post(self.run_posted)  # what else a driver's thread set off: the loop's
            return
        if self.kernel.driver_calls.watchdog.stack:
            if not self._posted:  # inside a driver call: run once it has returned
                self._posted = True
                self._post(self.run_posted)
            return
        self._run_queue()

    def run_posted(self) -> None:
        """Run the PM work queued from inside driver calls (and anything it queues)."""
        self._posted = False
        self._run_queue()

    def _run_queue(self) -> None:
        # Armed as the work loop is: a power call that blocks (a driver's message handler
        # in time.sleep) is interrupted too, when the change was asked for from outside it
        # (host.sleep(), a scenario's events).
        if not self.queue:
            return
        with self.kernel.driver_calls.watchdog.armed():
            # Checked as a work-loop job is: a driver's power callback may replace the
            # standard streams, or a shared module, as any driver code may.
            self.kernel.run_checked(self.queue.run, "during power management")
        if not (self.busy or self.queue.running):  # done: the requests count afresh
            self.requests.reset()

    # -- helpers ---------------------------------------------------------------------------------------------
    def _request(self, service: IOService, client: str, ordinal: object, call: str) -> int:
        if not self._known(service):
            return kIOPMNotYetInitialized
        if type(ordinal) is not int or ordinal < 0:
            return IOReturn.BAD_ARGUMENT
        if self.requests.spent(service) and not self.kernel.on_loop_thread():
            return IOReturn.BUSY  # a thread asking without end: nothing more queued
        if self._submitted(partial(self._request, service, client, ordinal, call)):
            return IOReturn.SUCCESS
        pm = self._pms.get(id(service))
        if pm is None:
            return kIOPMNotYetInitialized
        if not self.requests.take(service, call):
            return IOReturn.BUSY
        if pm.calling:
            self._note_nested(pm, call, ordinal)
        value = pm.table.clamp(ordinal) if pm.table is not None else min(ordinal, _STATE_MAX)
        if pm.set_client(client, value):
            self.idle.forget_tickles(pm)
            self.changes.request_adjust(pm)
            self.kick()
        return IOReturn.SUCCESS

    def _submitted(self, request: Callable[[], object]) -> bool:
        """Called on a thread other than the work loop's (a driver's own), queue ``request``
        whole on the work loop, which is woken, and say so (True): the power tree, the PM
        work queue and the log are the loop's alone (``submitPMRequest``); its caller
        answers as IOKit does once a request is queued (``kIOPMNoErr``)."""
        if self.kernel.on_loop_thread():
            return False
        self._post(partial(_answer_dropped, request))
        return True

    def _note_nested(self, pm: ServicePM, call: str, ordinal: int) -> None:
        pending = pm.pending_set
        now = self.clock.now_ns()
        self.log.add(now, "request", pm.driver or pm.service,
                     f"{call}({ordinal}) from inside set_power_state"
                     f"({pending.ordinal if pending else '?'}): it runs after this change")

    def join(self, parent: ServicePM, child: ServicePM) -> bool:
        """Link ``child`` under ``parent`` in the power tree; False (reported) for a cycle."""
        try:
            link(self.kernel.registry, parent, child)
        except RegistryError as error:
            self.kernel.report(Diagnostic(
                "power-tree-cycle", f"{child.service.iokit_class_name} cannot join the power "
                f"tree under {parent.service.iokit_class_name}: {error.diagnostic.message}",
                subject=child.service.iokit_class_name, severity=Severity.WARNING,
                hint="join_pm_tree is called on the provider with the driver as argument"))
            return False
        return True

    def _add_informee(self, pm: ServicePM, driver: IOService) -> None:
        pm.informees.append(driver)
        self._interest.setdefault(id(driver), []).append(pm)

    def _drop_informee(self, pm: ServicePM, driver: IOService) -> None:
        if driver in pm.informees:
            pm.informees.remove(driver)
        ack = pm.pending_informees.get(id(driver))
        if ack is not None:
            self._answers.close(pm, ack, "the driver is no longer interested")

    def describe_waits(self) -> list[str]:
        """Each acknowledgement and system-message answer still awaited, and for how long."""
        waits = []
        for pm in self._pms.values():
            acks: list[Ack] = [a for a in (pm.pending_set, *pm.pending_informees.values())
                               if a is not None and not a.done]
            for ack in acks:
                since = (self.clock.now_ns() - ack.started_ns) // 1_000_000
                waits.append(f"{self._answers.call_text(ack)} on {service_name(pm.service)} "
                             f"(for {since} ms)")
        waits.extend(self.clients.describe_open())
        return waits

    def _task_failed(self, task: Task, error: Exception) -> None:
        self.kernel.report(Diagnostic(
            "power-change-failed", f"power-management work '{task.label}' failed: "
            f"{type(error).__name__}: {error}", severity=Severity.ERROR,
            hint="the host's power code raised; the change was abandoned and the rest went on",
            context={"exception": error}))
        self.log.add(self.clock.now_ns(), "fault", None,
                     f"{task.label} abandoned: {type(error).__name__}: {error}")


def _answer_dropped(request: Callable[[], object]) -> None:
    """Run a request submitted from a driver's thread: its answer was given when queued."""
    request()


def _overrides_notifications(driver: IOService) -> bool:
    """Does ``driver`` override ``power_state_will_change_to`` or ``..._did_change_to``? IOKit
    adds such a controlling driver to the interested drivers."""
    cls = type(driver)
    return (cls.power_state_will_change_to is not IOService.power_state_will_change_to
            or cls.power_state_did_change_to is not IOService.power_state_did_change_to)


def _request_for(parent: ServicePM, child: ServicePM) -> int | None:
    if parent.table is None or child.table is None:
        return None
    return parent.table.supplying(child.table.states[child.current].input_power_requirement)
