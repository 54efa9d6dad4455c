"""IOPMrootDomain: the root of the power tree, and system sleep and wake (IOPMrootDomain.cpp).

The root domain has five states (``ourPowerStates``): OFF, RESTART, SLEEP, AOT and ON. In
SLEEP its output is ``kIOPMSleep``, which a device whose states need ``kIOPMPowerOn`` cannot
use, so the whole tree drops (leaves first) when the root domain goes to SLEEP, and rises
(root first) back to each device's retained desire when it returns to ON. It sits in the
IOService plane under the platform expert, as on a Mac, with ``IORootParent`` (its power
parent, always on) below it; in the IOPower plane ``IORootParent`` is the root.

:class:`SystemPower` runs the system transitions, one at a time, on the PM work queue:

- demand sleep (``sleepSystem``: the lid, the menu, ``pmset sleepnow``): the clients are told
  ``kIOMessageSystemWillSleep``, the tree drops, the system is asleep; nobody can veto it;
- idle sleep: refused while an assertion holds idle sleep off, or a service is in a state
  with ``kIOPMPreventIdleSleep`` (``updatePreventIdleSleepList``); otherwise the clients are asked
  ``kIOMessageCanSystemSleep`` first, and one cancel vetoes it, after which they are told
  ``kIOMessageSystemWillPowerOn`` and ``kIOMessageSystemHasPoweredOn`` (``tellChangeUp``), not
  sleep; otherwise it goes on as a demand sleep;
- wake: ``kIOMessageSystemWillPowerOn``, the tree rises, ``kIOMessageSystemHasPoweredOn``.

The sleep/wake watchdog (35 s on macOS) logs a transition still unfinished after 35 s of the
host clock, naming every acknowledgement it waits for; the transition goes on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from iokit_sdk.messages import (
    kIOMessageCanSystemSleep,
    kIOMessageSystemHasPoweredOn,
    kIOMessageSystemWillPowerOn,
    kIOMessageSystemWillSleep,
)
from iokit_sdk.power import (
    IOPMPowerState,
    kIOPMAuxPowerOn,
    kIOPMPowerOn,
    kIOPMRestart,
    kIOPMRestartCapability,
    kIOPMSleep,
    kIOPMSleepCapability,
)
from iokit_sdk.service import IOService

from iokit_host.power.queue import Task, TaskBody, Wait

if TYPE_CHECKING:
    from iokit_host.power.assertions import Assertions
    from iokit_host.power.change import Changes
    from iokit_host.power.context import PowerContext
    from iokit_host.power.idle import IdleTimers
    from iokit_host.power.messages import SleepWakeClients
    from iokit_host.power.pm import ServicePM

__all__ = ["AOT_STATE", "OFF_STATE", "ON_STATE", "RESTART_STATE", "ROOT_PARENT_FLAGS",
           "ROOT_STATES", "SLEEP_STATE", "WATCHDOG_NS", "IOPMrootDomain", "SystemPower",
           "Transition"]

OFF_STATE, RESTART_STATE, SLEEP_STATE, AOT_STATE, ON_STATE = range(5)
kIOPMAOTPower = 0x20000  # IOPM.h (private): the always-on-timer state's power and capability
ROOT_STATES = (
    IOPMPowerState(),
    IOPMPowerState(capability_flags=kIOPMRestartCapability, output_power_character=kIOPMRestart,
                   input_power_requirement=kIOPMRestart),
    IOPMPowerState(capability_flags=kIOPMSleepCapability, output_power_character=kIOPMSleep,
                   input_power_requirement=kIOPMAuxPowerOn),
    IOPMPowerState(capability_flags=kIOPMAOTPower, output_power_character=kIOPMAOTPower,
                   input_power_requirement=kIOPMPowerOn),
    IOPMPowerState(capability_flags=kIOPMPowerOn, output_power_character=kIOPMPowerOn,
                   input_power_requirement=kIOPMPowerOn),
)
#: What IORootParent supplies: everything the root domain's states may need.
ROOT_PARENT_FLAGS = kIOPMPowerOn | kIOPMAuxPowerOn | kIOPMRestart
#: The sleep/wake watchdog on macOS (``gSwdSleepWakeTimeout`` default).
WATCHDOG_NS = 35_000_000_000
STATE_NAMES = ("OFF", "RESTART", "SLEEP", "AOT", "ON")


class IOPMrootDomain(IOService):
    """The root power domain: the system's sleep and wake states (its own controlling driver)."""

    __slots__ = ()


@dataclass(slots=True)
class Transition:
    """A requested system transition and, once it ran, how it ended.

    :param kind: ``sleep`` (demand), ``idle`` (idle sleep) or ``wake``.
    :param reason: why it was asked for (shown in the log).
    :param result: None while pending; then ``asleep``, ``awake``, ``vetoed`` (a client
        cancelled the idle sleep), ``prevented`` (an assertion held idle sleep off) or
        ``unchanged`` (the system already was in that state).
    """

    kind: str
    reason: str
    result: str | None = None

    @property
    def done(self) -> bool:
        return self.result is not None


class SystemPower:
    """System sleep and wake for the root domain's block ``root``."""

    def __init__(self, context: PowerContext, changes: Changes, clients: SleepWakeClients,
                 idle: IdleTimers, assertions: Assertions,
                 describe_waits: Callable[[], list[str]]) -> None:
        self._context = context
        self._changes = changes
        self._clients = clients
        self._idle = idle
        self._assertions = assertions
        self._describe_waits = describe_waits
        self.root: ServicePM | None = None
        self.asleep = False
        #: The services whose current state holds idle sleep off (``preventIdleSleepList``).
        self.idle_preventers: Callable[[], list[IOService]] = list
        self._pending: deque[Task] = deque()
        self._running: Task | None = None

    @property
    def busy(self) -> bool:
        return self._running is not None or bool(self._pending)

    def request(self, kind: str, reason: str) -> Transition:
        """Queue a system transition; it runs after those queued before it."""
        transition = Transition(kind, reason)
        body = self._wake_body(transition) if kind == "wake" else self._sleep_body(transition)
        task = Task(body, f"system-{kind}", self._next)
        if self._running is None:
            self._running = task
            self._context.queue.spawn(task)
        else:
            self._pending.append(task)
        return transition

    def _next(self, task: Task) -> None:
        self._running = self._pending.popleft() if self._pending else None
        if self._running is not None:
            self._context.queue.spawn(self._running)

    # -- sleep ---------------------------------------------------------------------------------------
    def _sleep_body(self, transition: Transition) -> TaskBody:
        root = self.root
        context = self._context
        if root is None or self.asleep:
            transition.result = "unchanged"
            return
        start = context.clock.now_ns()
        slot = context.log.begin()
        watchdog = context.clock.call_at(start + WATCHDOG_NS, partial(self._watchdog, "sleep",
                                                                      start))
        outcome = "asleep"
        try:
            if transition.kind == "idle":
                outcome = yield from self._ask_idle(root)
                if outcome != "asleep":
                    return
            flags = ROOT_STATES[SLEEP_STATE].capability_flags
            question = self._clients.ask(root.service, kIOMessageSystemWillSleep, SLEEP_STATE,
                                         flags)
            if question.wait.pending:
                yield question.wait
            self._idle.suspend()
            root.set_override(SLEEP_STATE)
            yield from self._settle_root(root)
            self.asleep = True
        finally:
            watchdog.cancel()
            transition.result = outcome
            context.log.end(slot, start, "system-sleep", root.service,
                            f"{_describe(transition)}: {outcome}", ON_STATE,
                            root.current, context.clock.now_ns())

    def _ask_idle(self, root: ServicePM) -> Generator[Wait, None, str]:
        """The idle-sleep checks: assertions, then ``kIOMessageCanSystemSleep``."""
        context = self._context
        preventers = self._assertions.preventing_idle_sleep()
        if preventers:
            names = ", ".join(f'{a.type} "{a.name}" (pid {a.pid})' for a in preventers)
            context.log.add(context.clock.now_ns(), "veto", root.service,
                            f"idle sleep prevented by assertion {names}")
            return "prevented"
        services = self.idle_preventers()
        if services:
            names = ", ".join(service.iokit_class_name for service in services)
            context.log.add(context.clock.now_ns(), "veto", root.service,
                            f"idle sleep prevented by {names} (kIOPMPreventIdleSleep)")
            return "prevented"
        flags = ROOT_STATES[SLEEP_STATE].capability_flags
        question = self._clients.ask(root.service, kIOMessageCanSystemSleep, SLEEP_STATE, flags)
        if question.wait.pending:
            yield question.wait
        if question.cancelled_by:
            # tellChangeUp: the clients hear the system stays on.
            self._clients.tell(root.service, kIOMessageSystemWillPowerOn)
            self._clients.tell(root.service, kIOMessageSystemHasPoweredOn)
            return "vetoed"
        return "asleep"

    # -- wake ----------------------------------------------------------------------------------------
    def _wake_body(self, transition: Transition) -> TaskBody:
        root = self.root
        context = self._context
        if root is None or not self.asleep:
            transition.result = "unchanged"
            return
        start = context.clock.now_ns()
        slot = context.log.begin()
        watchdog = context.clock.call_at(start + WATCHDOG_NS, partial(self._watchdog, "wake",
                                                                      start))
        from_state = root.current
        try:
            self._clients.tell(root.service, kIOMessageSystemWillPowerOn)
            root.set_override(None)
            yield from self._settle_root(root)
            self.asleep = False
            self._clients.tell(root.service, kIOMessageSystemHasPoweredOn)
            self._idle.resume()
        finally:
            watchdog.cancel()
            transition.result = "awake"
            context.log.end(slot, start, "system-wake", root.service, _describe(transition),
                            from_state, root.current, context.clock.now_ns())

    # -- helpers -------------------------------------------------------------------------------------
    def _settle_root(self, root: ServicePM) -> TaskBody:
        self._changes.request_adjust(root)
        wait = self._changes.settle(root)
        if wait.pending:
            yield wait

    def _watchdog(self, what: str, start_ns: int) -> None:
        context = self._context
        waits = self._describe_waits()
        listed = "; ".join(waits[:20]) + (f"; and {len(waits) - 20} more" if len(waits) > 20
                                          else "")
        context.log.add(context.clock.now_ns(), "watchdog", self.root.service if self.root
                        else None, f"{what} not finished after {WATCHDOG_NS // 10**9} s; "
                        f"waiting for: {listed or 'nothing pending'}")


def _describe(transition: Transition) -> str:
    what = {"sleep": "sleep", "idle": "idle sleep", "wake": "wake"}[transition.kind]
    return f"{what} ({transition.reason})" if transition.reason else what
