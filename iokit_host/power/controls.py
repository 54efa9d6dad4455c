"""The host's controls over system power: what ``pmset sleepnow``, the power button, a user's
activity and ``IOPMAssertionCreateWithName`` do on a Mac, and the host clock that times them.

:class:`HostControls` is part of :class:`~iokit_host.power.manager.PowerManager` (a mixin):
a sleep, an idle sleep or a wake is a transition of IOPMrootDomain (:mod:`.rootdomain`) run
until power management has nothing left to do, the clock driven from timer to timer while a
change waits for an acknowledgement, so ``host.sleep()`` returns with the sleep complete and
late drivers flagged. Assertions are logged in the sleep/wake log as powerd logs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.driver_calls import described
from iokit_host.power.assertions import Assertion

if TYPE_CHECKING:
    from collections.abc import Callable

    from iokit_sdk.service import IOService

    from iokit_host.clock import HostClock
    from iokit_host.kernel.protocol import WorkLoop
    from iokit_host.power.assertions import Assertions
    from iokit_host.power.log import PowerLog
    from iokit_host.power.pm import ServicePM
    from iokit_host.power.queue import WorkQueue
    from iokit_host.power.request_budget import RequestBudget
    from iokit_host.power.rootdomain import SystemPower, Transition

__all__ = ["HostControls"]

#: How many clock steps ``run_until_idle`` takes before it reports PM work that never ends.
_MAX_STEPS = 100_000
#: How often it runs work that came in with no timer set before it reports it.
_MAX_RETRIES = 1_000


class _Manager(Protocol):
    """What the controls use of the power manager they are part of."""

    kernel: WorkLoop
    clock: HostClock
    log: PowerLog
    assertions: Assertions
    system: SystemPower
    queue: WorkQueue
    requests: RequestBudget

    @property
    def busy(self) -> bool: ...
    def kick(self) -> None: ...
    def run_posted(self) -> None: ...
    def pm_of(self, service: IOService) -> ServicePM | None: ...
    def describe_waits(self) -> list[str]: ...
    def activity_tickle(self, service: IOService, policy: int, state: int) -> bool: ...
    def request_transition(self, kind: str, reason: str = "") -> Transition: ...
    def run_until_idle(self, until: Callable[[], bool] | None = None) -> None: ...


class HostControls:
    """Sleep, wake, assertions, device activity and the clock, as the host asks for them."""

    def sleep(self: _Manager, reason: str = "Software Sleep") -> Transition:
        """Demand sleep (``IOPMSleepSystem``): completes, whoever objects."""
        return _run(self, "sleep", reason)

    def idle_sleep(self: _Manager, reason: str = "Idle Sleep") -> Transition:
        """Idle sleep: refused under an idle-sleep assertion; vetoable through
        ``kIOMessageCanSystemSleep``."""
        return _run(self, "idle", reason)

    def wake(self: _Manager, reason: str = "User Activity") -> Transition:
        return _run(self, "wake", reason)

    def request_transition(self: _Manager, kind: str, reason: str = "") -> Transition:
        """Queue a system transition (``sleep``, ``idle`` or ``wake``) and run it as far as it
        goes without moving the clock: :meth:`advance` or :meth:`run_until_idle` finish it."""
        if kind not in ("sleep", "idle", "wake"):
            raise ValueError(f"unknown system transition {kind!r}: sleep, idle or wake")
        transition = self.system.request(kind, str(reason))
        self.kick()
        return transition

    def create_assertion(self: _Manager, type: str, name: str, *, level: int = 255,
                         owner: str = "iokit", pid: int = 0) -> Assertion:
        """Create an assertion (``IOPMAssertionCreateWithName``); it is logged.

        :raises AssertionError_: ``power-assertion-invalid`` for a type, name or level
            powerd would refuse.
        """
        now = self.clock.now_ns()
        assertion = self.assertions.create(type, name, level=level, owner=owner, pid=pid,
                                           now_ns=now)
        self.log.add(now, "assertion", None, f'created {type} "{name}" '
                     f"[0x{assertion.assertion_id:016x}] level {level} by pid {pid}({owner})")
        return assertion

    def release_assertion(self: _Manager, assertion_id: int) -> bool:
        """Release an assertion; False when there is none with that id."""
        assertion = self.assertions.release(assertion_id)
        if assertion is None:
            return False
        self.log.add(self.clock.now_ns(), "assertion", None,
                     f'released {assertion.type} "{assertion.name}" '
                     f"[0x{assertion_id:016x}]")
        return True

    def tickle(self: _Manager, service: IOService, state: int | None = None) -> bool:
        """Device activity on ``service`` (``activityTickle`` at ``state``, by default the
        highest), then run until the rise is done; returns what ``activity_tickle`` did."""
        pm = self.pm_of(service)
        if pm is None or pm.table is None:
            return False
        result = self.activity_tickle(service, 1, pm.table.highest if state is None else state)
        self.run_until_idle()
        return result

    def advance(self: _Manager, ms: float) -> None:
        """Move the host clock ``ms`` milliseconds forward, running the timers (acknowledgement
        timeouts, idle timers) and the PM work they start, each at its time."""
        self.clock.advance(max(0, int(ms * 1_000_000)))
        self.run_posted()
        self.kernel.run_until_quiet()

    def run_until_idle(self: _Manager, until: Callable[[], bool] | None = None) -> None:
        """Run PM work until none is left, driving the clock to the next timer whenever
        something waits for an acknowledgement; or, given ``until``, only until it is true
        (what waits then is left to whoever moves the clock next). Work that came in with
        no timer set (a request a driver's own thread submitted meanwhile, queued on the work
        loop) is run again, a few times at most."""
        steps = retries = 0
        deadline: int | None = None
        self.requests.watch()  # whose requests keep it busy, should it never end
        while steps < _MAX_STEPS:
            steps += 1
            self.run_posted()
            self.kernel.run_until_quiet()
            if not self.busy or (until is not None and until()):
                return
            deadline = self.clock.next_deadline()
            if deadline is not None:
                self.clock.advance_to(deadline)
            elif not (self.queue or self.queue.running or self.kernel.pending_jobs()) \
                    or retries >= _MAX_RETRIES:
                break
            else:
                retries += 1
        _report_stall(self, steps, deadline is None)


def _report_stall(manager: _Manager, steps: int, no_timer: bool) -> None:
    """``power-stalled``: what still waits, said as it is, and the driver whose requests kept
    power management busy, when one did."""
    waits = "; ".join(manager.describe_waits()[:5])
    text = f"power management still has work waiting after {steps} step(s)"
    if no_timer:
        text += " and no timer that could end the wait"
    busiest = manager.requests.busiest()
    subject = None
    if busiest is not None:
        service, count = busiest
        subject = service.iokit_class_name
        text += f"; {described(service)} made {count} power requests meanwhile"
    manager.kernel.report(Diagnostic(
        "power-stalled", text + (f": {waits}" if waits else ""), subject=subject,
        severity=Severity.WARNING,
        hint="see the sleep/wake log (iokit pmset -g log); a driver that asks for power "
             "changes without end (in a loop of its own thread) keeps power management busy"))


def _run(manager: _Manager, kind: str, reason: str) -> Transition:
    """A system transition asked for and run to its end."""
    transition = manager.request_transition(kind, reason)
    manager.run_until_idle()
    return transition
