"""One power change at a time per service, as IOServicePM.cpp's state machine runs it.

A change (``OurChangeStart`` ... ``OurChangeFinish`` when the service asked for it,
``ParentChangeStart`` ... when its power parent imposed it) goes, on the PM work queue:

1. interested drivers: ``power_state_will_change_to`` (and their acknowledgements);
2. for a drop, the power children first: each whose new maximum (from this service's new
   output flags) is below its state runs its own whole drop, its children first, before this
   change goes on (so a system sleep reaches the leaves first);
3. the controlling driver's ``set_power_state`` (and its acknowledgement);
4. interested drivers: ``power_state_did_change_to``;
5. for a rise, the power children after: each rises to ``min(desired, allowed)`` (so a wake
   reaches the root first).

After a self-initiated change the service reports its new need to its parents
(``requestDomainPower``): their ``ChildrenPowerState`` follows, so a parent may drop in turn,
and a child that wants more than its parents supply asks them first. Requests that arrive
while a change is under way wait for it to end (``dirty``); changes imposed by a parent queue
behind it. Nothing here recurses per tree level: every step that reaches another service is a
task on the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from iokit_sdk.power import kIOPMInitialDeviceState

from iokit_host.power.pm import CHILDREN
from iokit_host.power.queue import Task, TaskBody, Wait

if TYPE_CHECKING:
    from iokit_host.power.acks import Answers
    from iokit_host.power.context import PowerContext
    from iokit_host.power.pm import ServicePM
    from iokit_host.power.queue import Ack
    from iokit_host.power.tree import IOPowerConnection

__all__ = ["Changes"]


class Changes:
    """Starts, queues and runs the power changes of every service of one host."""

    def __init__(self, context: PowerContext, answers: Answers) -> None:
        self._context = context
        self._answers = answers
        #: Called with a service's block after each change that moved it (idle timers).
        self.on_changed: list[Callable[[ServicePM], None]] = []

    # -- requests ---------------------------------------------------------------------------------
    def request_adjust(self, pm: ServicePM) -> None:
        """Queue ``adjustPowerState``: move ``pm`` towards its desire once it is free."""
        if pm.change is not None:
            pm.dirty = True
        elif not pm.adjust_queued:
            pm.adjust_queued = True
            self._context.queue.spawn(Task(self._adjust_body(pm), "adjust"))

    def _adjust_body(self, pm: ServicePM) -> TaskBody:
        pm.adjust_queued = False
        self.adjust_now(pm)
        return
        yield  # a task body is a generator, even one that never waits

    def adjust_now(self, pm: ServicePM) -> None:
        table = pm.table
        if pm.stopped or table is None or pm.initial_pending:
            self.wake_waiters(pm)
            return
        if pm.change is not None:
            pm.dirty = True
            return
        desired = pm.desired()
        if table.rank[desired] > table.rank[pm.current]:
            self._request_domain(pm, desired, raise_only=True)  # kReserveDomainPower
        if table.lower(desired, pm.max_state()) == pm.current:
            pm.publish()  # a client changed, the state does not
            self.wake_waiters(pm)
            return
        pm.publish()  # the new client values and DesiredPowerState, while the change runs
        self._start(pm, Task(self._self_body(pm), "change"))

    def settle(self, pm: ServicePM) -> Wait:
        """A wait that ends once ``pm`` has no change under way, queued or asked for."""
        wait = Wait(self._context.queue)
        if not pm.settled and not pm.stopped:
            pm.waiters.append(wait.ack("settle", pm.service))
        return wait

    @staticmethod
    def wake_waiters(pm: ServicePM) -> None:
        if pm.waiters and (pm.settled or pm.stopped):
            waiters, pm.waiters = pm.waiters, []
            for ack in waiters:
                ack.resolve()

    def start_initial(self, pm: ServicePM) -> None:
        """Run the initial change of a newly registered service once its parents' state is
        known (``handleRegisterPowerDriver``: to ``initialPowerStateForDomainState``)."""
        if not pm.initial_pending or pm.stopped or pm.table is None:
            return
        if pm.parent_flags() is None:
            return  # a parent whose own state is not known yet: it calls back when it is
        pm.initial_pending = False
        self._queue_on(pm, Task(self._initial_body(pm), "initial"))

    # -- running changes one at a time ------------------------------------------------------------
    def _start(self, pm: ServicePM, task: Task) -> None:
        pm.change = task
        task.subject = pm
        task.on_done = self._finished_task
        self._context.queue.spawn(task)

    def _finished_task(self, task: Task) -> None:
        self._finished(task.subject, task)

    def _queue_on(self, pm: ServicePM, task: Task) -> None:
        if pm.change is None:
            self._start(pm, task)
        else:
            pm.requests.append(task)

    def _finished(self, pm: ServicePM, task: Task) -> None:
        if pm.change is task:
            pm.change = None
        if pm.requests:
            self._start(pm, pm.requests.popleft())
        elif pm.dirty and not pm.stopped:
            pm.dirty = False
            self.request_adjust(pm)
        else:
            pm.dirty = False
            self.wake_waiters(pm)

    def _self_body(self, pm: ServicePM) -> TaskBody:
        if pm.stopped or pm.table is None:
            return
        target = pm.target()  # again: what the parents allow may have changed since queued
        if target != pm.current:
            yield from self._transition(pm, target)
        if not pm.stopped:
            self._request_domain(pm, pm.current, raise_only=False)

    def _parent_body(self, pm: ServicePM, ack: Ack, rise: bool) -> TaskBody:
        try:
            table = pm.table
            if pm.stopped or table is None:
                return
            allowed = pm.max_state()
            if rise:
                target = table.lower(pm.desired(), allowed)
                if table.rank[target] <= table.rank[pm.current]:
                    return
            elif table.rank[allowed] < table.rank[pm.current]:
                target = allowed
            else:
                return
            yield from self._transition(pm, target)
        finally:
            ack.resolve()  # the parent's change goes on (ParentChangeAcknowledgePowerChange)

    def _initial_body(self, pm: ServicePM) -> TaskBody:
        table = pm.table
        if pm.stopped or table is None:
            return
        target = table.for_domain(pm.parent_flags() or 0)
        if target == pm.current or table.states[target].capability_flags & kIOPMInitialDeviceState:
            # Already there (kIOPMInitialDeviceState: no set_power_state, no informees).
            pm.current = target
            pm.publish()
            wait = self._children_rise(pm)
            if wait.pending:
                yield wait
        else:
            yield from self._transition(pm, target)
        if not pm.stopped:
            self._request_domain(pm, pm.current, raise_only=False)

    # -- one transition ----------------------------------------------------------------------------
    def _transition(self, pm: ServicePM, target: int) -> TaskBody:
        table = pm.table
        assert table is not None
        old = pm.current
        old_output = table.states[old].output_power_character
        new_output = table.states[target].output_power_character
        if pm.informees:
            wait = self._inform(pm, "will-change", old, target)
            if wait.pending:
                yield wait
        if pm.children and old_output & ~new_output:
            # Power the children use is going away: they go lower first. (For a drop of the
            # usual kind; IOKit's test is the children's new maximum, whatever the ranks.)
            wait = self._children_drop(pm, old_output & new_output)
            if wait.pending:
                yield wait
        if not pm.stopped:
            wait = self._set_power_state(pm, old, target)
            if wait.pending:
                yield wait
        pm.current = target
        pm.publish()
        for hook in self.on_changed:
            hook(pm)
        if pm.informees and not pm.stopped:
            wait = self._inform(pm, "did-change", old, target)
            if wait.pending:
                yield wait
        if pm.children:
            wait = self._children_rise(pm)  # the children see the new power and may rise
            if wait.pending:
                yield wait

    def _inform(self, pm: ServicePM, kind: str, old: int, target: int) -> Wait:
        """Call every interested driver's will/did method; the wait collects their acks."""
        context = self._context
        assert pm.table is not None
        wait = Wait(context.queue)
        capabilities = pm.table.states[target].capability_flags
        name = "iokit_power_state_will_change_to" if kind == "will-change" \
            else "iokit_power_state_did_change_to"
        hook = getattr(context.kernel.hook, name)
        # The built-in plugin's implementation when it is alone (as in _set_power_state).
        plugins = context.kernel.plugin_manager
        alone = plugins.caller(name) if plugins.builtin_alone(name) else None
        calls = context.kernel.driver_calls
        for driver in tuple(pm.informees):
            if pm.stopped:
                break
            if driver.is_inactive():
                continue
            ack = wait.ack(kind, driver, target, context.clock.now_ns())
            ack.origin = old
            ack.slot = context.log.begin()
            pm.pending_informees[id(driver)] = ack
            if alone is not None:
                result = calls.call(alone, driver, capabilities, target, pm.service)
            else:
                result = calls.call_hook(hook, {"service": driver, "capabilities": capabilities,
                                                "ordinal": target, "device": pm.service})
            self._answers.settle(pm, ack, result)
        return wait

    def _set_power_state(self, pm: ServicePM, old: int, target: int) -> Wait:
        context = self._context
        wait = Wait(context.queue)
        driver = pm.driver if pm.driver is not None else pm.service
        if driver.is_inactive() or pm.service.is_inactive():
            return wait  # terminating: IOKit makes no more driver calls (assertPMDriverCall)
        ack = wait.ack("set-power-state", driver, target, context.clock.now_ns())
        ack.origin = old
        ack.slot = context.log.begin()
        pm.pending_set = ack
        pm.calling = True
        kernel = context.kernel
        plugins = kernel.plugin_manager
        try:
            if plugins.builtin_alone("iokit_set_power_state"):
                # What the hook call would run, and all it would do (no other plugin, no
                # monitor): the built-in plugin's implementation, given the arguments in its
                # order (a system sleep makes one call per node).
                result = kernel.driver_calls.call(plugins.caller("iokit_set_power_state"),
                                                  driver, target, pm.service)
            else:  # pluggy's argument checks skipped, as for a user client's method
                result = kernel.driver_calls.call_hook(
                    kernel.hook.iokit_set_power_state,
                    {"service": driver, "ordinal": target, "device": pm.service})
        finally:
            pm.calling = False
        self._answers.settle(pm, ack, result)
        return wait

    # -- power children ------------------------------------------------------------------------------
    def _children_drop(self, pm: ServicePM, flags: int) -> Wait:
        """``powerDomainWillChangeTo`` with less power (``flags`` is what stays supplied):
        children whose new maximum is below their state go lower first."""
        context = self._context
        wait = Wait(context.queue)
        for link in tuple(pm.children):
            link.parent_flags = flags
            child = link.child_pm
            if child is None or child.table is None or child.stopped or child.initial_pending:
                continue
            rank = child.table.rank
            if rank[child.max_state()] < rank[child.current]:
                ack = wait.ack("child", child.service, 0, context.clock.now_ns())
                self._queue_on(child, Task(self._parent_body(child, ack, rise=False),
                                           "parent-drop"))
        return wait

    def _children_rise(self, pm: ServicePM) -> Wait:
        """``powerDomainDidChangeTo``: children rise to what they desire, at most what this
        service now supplies; newly registered children run their initial change."""
        context = self._context
        wait = Wait(context.queue)
        flags = pm.output_flags()
        for link in tuple(pm.children):
            link.parent_flags = flags
            child = link.child_pm
            if child is None or child.table is None or child.stopped:
                continue
            if child.initial_pending:
                self.start_initial(child)
                continue
            table = child.table
            if table.rank[table.lower(child.desired(), child.max_state())] > \
                    table.rank[child.current]:
                ack = wait.ack("child", child.service, 0, context.clock.now_ns())
                self._queue_on(child, Task(self._parent_body(child, ack, rise=True),
                                           "parent-rise"))
        return wait

    # -- what children ask of their parents ----------------------------------------------------------
    def _request_domain(self, pm: ServicePM, ordinal: int, *, raise_only: bool) -> None:
        """Tell each parent which of its states ``pm`` needs for ``ordinal``
        (``requestDomainPower``); a parent whose ``ChildrenPowerState`` moves adjusts."""
        assert pm.table is not None
        need = pm.table.states[ordinal].input_power_requirement
        for link in pm.parents:
            parent = link.parent_pm
            if parent is None or parent.table is None or parent.stopped:
                continue
            wanted = parent.table.supplying(need)
            old = link.request
            if old == wanted or (raise_only and old is not None
                                 and parent.table.rank[wanted] <= parent.table.rank[old]):
                continue
            self.set_request(parent, link, wanted)

    def set_request(self, parent: ServicePM, link: IOPowerConnection,
                    wanted: int | None) -> None:
        """Change one child's request of ``parent`` and refresh its ``ChildrenPowerState``."""
        counts = parent.child_requests
        old = link.request
        if old is not None:
            left = counts.get(old, 0) - 1
            if left > 0:
                counts[old] = left
            else:
                counts.pop(old, None)
        if wanted is not None:
            counts[wanted] = counts.get(wanted, 0) + 1
        link.request = wanted
        table = parent.table
        if table is None:
            return
        best = max(counts, key=table.rank.__getitem__) if counts else 0
        if parent.set_client(CHILDREN, best):
            self.request_adjust(parent)
