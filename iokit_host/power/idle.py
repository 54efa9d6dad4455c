"""Idle timers and activity tickles (IOServicePM.cpp ``setIdleTimerPeriod``, ``activityTickle``,
``start_PM_idle_timer``, ``idleTimerExpired``), on the host clock.

- ``set_idle_timer_period(seconds)`` starts a timer of that period (0 stops it).
- ``activity_tickle(kIOPMSuperclassPolicy1, state)`` records activity; when ``state`` is above
  the last tickled state it raises the ``DevicePowerState`` desire to it and returns False
  ("wait for the rise"), else True. The tickle cache is forgotten when the desire changes for
  another reason, on an idle drop and on system sleep.
- When the timer expires with no activity in the period, the device desire steps down one
  state in state order (an ``idle-drop`` in the log), and the timer starts again; it stops
  once the desire is the lowest state and restarts when a tickle raises it. A drop waits
  while the device has not yet reached a state a tickle asked for.
- A system sleep stops every idle timer; the wake restarts them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeGuard

from iokit_sdk.power import kIOPMSuperclassPolicy1
from iokit_sdk.returns import IOReturn

from iokit_host.kernel.driver_results import plain_int
from iokit_host.power.pm import DEVICE

if TYPE_CHECKING:
    from iokit_host.clock import Timer
    from iokit_host.power.context import PowerContext
    from iokit_host.power.pm import ServicePM

__all__ = ["INT_MAX", "IdleState", "IdleTimers"]

INT_MAX = 2**31 - 1
_S = 1_000_000_000


class IdleState:
    """A service's idle timer and tickle cache."""

    __slots__ = ("last_activity_ns", "min_state", "period_s", "tickle_state", "tickles", "timer")

    def __init__(self) -> None:
        self.period_s = 0
        self.timer: Timer | None = None
        self.last_activity_ns: int | None = None
        #: The highest state tickled since the cache was last forgotten (None: forgotten).
        self.tickle_state: int | None = None
        #: A tickled state the device has not reached yet: idle drops wait for it.
        self.min_state: int | None = None
        #: Tickles since the last expiry (``ActivityTickles``).
        self.tickles = 0


class IdleTimers:
    """The idle timers of one host.

    :param adjust: queues an ``adjustPowerState`` for a service whose desire changed.
    """

    def __init__(self, context: PowerContext, adjust: Callable[[ServicePM], None]) -> None:
        self._context = context
        self._adjust = adjust
        self._timed: dict[int, ServicePM] = {}
        self.suspended = False

    # -- requests ------------------------------------------------------------------------------
    @staticmethod
    def period_ok(seconds: object) -> TypeGuard[int]:
        return type(seconds) is int and 0 <= seconds <= INT_MAX

    def set_period(self, pm: ServicePM, seconds: object) -> int:
        if not self.period_ok(seconds):
            return IOReturn.BAD_ARGUMENT
        idle = self._state(pm)
        idle.period_s = seconds
        if seconds:
            self._timed[id(pm)] = pm
            self._arm(pm, self._context.clock.now_ns() + seconds * _S)
        else:
            self._timed.pop(id(pm), None)
            self._cancel(idle)
        pm.publish(full=True)
        return IOReturn.SUCCESS

    def tickle(self, pm: ServicePM, policy: object, state: object) -> bool:
        # Compared as a plain int: a driver's own number type may define ``!=`` as it likes.
        if plain_int(policy) != kIOPMSuperclassPolicy1:
            return True  # kIOPMSubclassPolicy: the subclass's business
        table = pm.table
        if table is None or type(state) is not int or state < 0:
            return False
        state = table.clamp(state)
        idle = self._state(pm)
        idle.last_activity_ns = self._context.clock.now_ns()
        idle.tickles += 1
        cached = idle.tickle_state
        if cached is not None and table.rank[state] <= table.rank[cached]:
            return True
        idle.tickle_state = state
        if table.rank[state] > table.rank[pm.current]:
            idle.min_state = state
        device = pm.clients.get(DEVICE, table.lowest)
        if table.rank[state] > table.rank[device]:
            pm.set_client(DEVICE, state)
            self._adjust(pm)
        if idle.period_s and idle.timer is None and not self.suspended:
            self._arm(pm, idle.last_activity_ns + idle.period_s * _S)
        return False

    @staticmethod
    def is_at(pm: ServicePM, policy: object, state: object) -> bool:
        """What ``activityTickle`` answers a driver's thread, its tickle queued for the work
        loop: True when no rise is needed (the device is in ``state`` or above), read only."""
        if plain_int(policy) != kIOPMSuperclassPolicy1:
            return True
        table = pm.table
        if table is None or type(state) is not int or state < 0:
            return False
        return table.rank[table.clamp(state)] <= table.rank[pm.current]

    def forget_tickles(self, pm: ServicePM) -> None:
        """The desire changed for another reason: the next tickle counts again."""
        if pm.idle is not None:
            pm.idle.tickle_state = None

    def changed(self, pm: ServicePM) -> None:
        """After ``pm`` changed state: a tickled state reached lets idle drops go on."""
        idle = pm.idle
        if idle is not None and idle.min_state is not None and pm.table is not None \
                and pm.table.rank[pm.current] >= pm.table.rank[idle.min_state]:
            idle.min_state = None

    def stop(self, pm: ServicePM) -> None:
        if pm.idle is not None:
            self._cancel(pm.idle)
        self._timed.pop(id(pm), None)

    # -- system sleep and wake -------------------------------------------------------------------
    def suspend(self) -> None:
        """System sleep: every idle timer stops and tickle caches are forgotten."""
        self.suspended = True
        for pm in self._timed.values():
            assert pm.idle is not None
            self._cancel(pm.idle)
            pm.idle.tickle_state = None

    def resume(self) -> None:
        """Full wake: the idle timers start again from now."""
        self.suspended = False
        now = self._context.clock.now_ns()
        for pm in list(self._timed.values()):
            assert pm.idle is not None
            self._arm(pm, now + pm.idle.period_s * _S)

    # -- the timer ----------------------------------------------------------------------------------
    def _expired(self, pm: ServicePM) -> None:
        idle = pm.idle
        table = pm.table
        if idle is None or table is None or pm.stopped or self.suspended:
            return
        idle.timer = None
        context = self._context
        now = context.clock.now_ns()
        period_ns = idle.period_s * _S
        if not period_ns:
            return
        last = idle.last_activity_ns
        if last is not None and now - last < period_ns:
            self._arm(pm, last + period_ns)  # activity in the period: start again
            return
        idle.tickles = 0
        if idle.min_state is not None:
            self._arm(pm, now + period_ns)  # still rising to a tickled state
            return
        device = pm.clients.get(DEVICE, table.lowest)
        if table.rank[device] == 0:
            return  # the desire is the lowest state: the timer stops
        lower = table.below(device)
        context.log.add(now, "idle-drop", pm.service,
                        f"idle for {idle.period_s} s: device desire {device} -> {lower}",
                        from_state=device, to_state=lower)
        pm.set_client(DEVICE, lower)
        idle.tickle_state = None
        self._adjust(pm)
        if table.rank[lower]:
            self._arm(pm, now + period_ns)
        context.kick()

    def _arm(self, pm: ServicePM, due_ns: int) -> None:
        idle = pm.idle
        assert idle is not None
        self._cancel(idle)
        if self.suspended:
            return
        idle.timer = self._context.clock.call_at(due_ns, partial(self._expired, pm))

    @staticmethod
    def _cancel(idle: IdleState) -> None:
        if idle.timer is not None:
            idle.timer.cancel()
            idle.timer = None

    @staticmethod
    def _state(pm: ServicePM) -> IdleState:
        if pm.idle is None:
            pm.idle = IdleState()
        return pm.idle
