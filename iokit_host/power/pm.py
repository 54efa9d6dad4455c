"""The per-service power-management block (``IOServicePM``) and its ``IOPowerManagement`` property.

``PMinit`` gives a service one of these: its registered state table and controlling driver,
its current state, the power clients whose maximum is the state it desires
(``DevicePowerState``, ``DriverPowerState``, ``ChildrenPowerState``, ``ChildProxyPowerState``),
its interested drivers, its links to power parents and children, the ceiling a root-domain
override sets, the change in progress and the requests queued behind it, its idle timer, and
the acknowledgements it is waiting for. :meth:`ServicePM.publish` writes the live
``IOPowerManagement`` dictionary ioreg shows (``IOServicePM::gatedSerialize``): the power
clients, ``CurrentPowerState``, ``CapabilityFlags``, ``MaxPowerState`` (the table's last
index) and ``DesiredPowerState`` while it differs from the current state.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

    from iokit_host.power.idle import IdleState
    from iokit_host.power.queue import Ack, Task
    from iokit_host.power.tables import StateTable
    from iokit_host.power.tree import IOPowerConnection

__all__ = ["CHILDREN", "CHILD_PROXY", "DEVICE", "DRIVER", "POWER_MANAGEMENT", "ServicePM"]

POWER_MANAGEMENT = "IOPowerManagement"
DEVICE = "DevicePowerState"
DRIVER = "DriverPowerState"
CHILDREN = "ChildrenPowerState"
CHILD_PROXY = "ChildProxyPowerState"
#: Clients a request of 0 does not remove (``handleRequestPowerState``).
_KEPT_AT_ZERO = frozenset({DEVICE, DRIVER, CHILD_PROXY})
#: Clients an override ceiling ignores (``changePowerStateWithOverrideTo``).
_OVERRIDDEN = frozenset({CHILDREN, DRIVER})


class ServicePM:
    """The power-management state of one service (``IOServicePM``)."""

    __slots__ = (
        "_desired",
        "_published",
        "_reshape",
        "adjust_queued",
        "calling",
        "change",
        "child_requests",
        "children",
        "clients",
        "current",
        "dirty",
        "driver",
        "floor",
        "idle",
        "informees",
        "initial_pending",
        "override",
        "parent_flags_fixed",
        "parents",
        "pending_informees",
        "pending_set",
        "requests",
        "service",
        "stopped",
        "table",
        "waiters",
    )

    def __init__(self, service: IOService) -> None:
        self.service = service
        self.driver: IOService | None = None
        self.table: StateTable | None = None
        self.current = 0
        self.clients: dict[str, int] = {}
        #: Interested drivers, in registration order.
        self.informees: list[IOService] = []
        self.parents: list[IOPowerConnection] = []
        self.children: list[IOPowerConnection] = []
        #: How many children ask for each of this service's states (their link requests).
        self.child_requests: dict[int, int] = {}
        #: The root domain's override ceiling (demand sleep), or None.
        self.override: int | None = None
        #: A hidden lower bound on the desire (stand-ins keep their recorded state with it).
        self.floor: int | None = None
        #: The change in progress, and parent-initiated changes waiting behind it.
        self.change: Task | None = None
        self.requests: deque[Task] = deque()
        #: Acknowledgements owed to waiters once no change is left to do (``settle``).
        self.waiters: list[Ack] = []
        #: The desire changed while a change was in progress: adjust when it ends.
        self.dirty = False
        self.adjust_queued = False
        #: True while the controlling driver's set_power_state is running.
        self.calling = False
        #: ``register_power_driver`` succeeded but the initial change has not run yet.
        self.initial_pending = False
        #: The parent flags of a PM root (the root domain's ``IORootParent``), or None.
        self.parent_flags_fixed: int | None = None
        self.pending_set: Ack | None = None
        self.pending_informees: dict[int, Ack] = {}
        self.idle: IdleState | None = None
        self.stopped = False
        # Cache: the desire (until a client, the floor or the override changes). A system
        # sleep asks it per node.
        self._desired: int | None = None
        #: The dictionary last published, and whether its keys must be rebuilt.
        self._published: dict[str, Any] | None = None
        self._reshape = True

    # -- states ----------------------------------------------------------------------------------
    @property
    def registered(self) -> bool:
        return self.table is not None

    @property
    def settled(self) -> bool:
        """No change under way, queued or asked for."""
        return self.change is None and not self.requests and not self.adjust_queued \
            and not self.dirty

    def capability_flags(self) -> int:
        return self.table.states[self.current].capability_flags if self.table else 0

    def output_flags(self) -> int:
        return self.table.states[self.current].output_power_character if self.table else 0

    def parent_flags(self) -> int | None:
        """The power the parents supply now (OR over the links whose parent's state is known),
        or None while no parent's state is known (``fParentsKnowState``)."""
        if self.parent_flags_fixed is not None:
            return self.parent_flags_fixed
        parents = self.parents
        if len(parents) == 1:  # nearly every service: one power parent
            return parents[0].parent_flags
        if not parents:
            return None
        known = [link.parent_flags for link in self.parents if link.parent_flags is not None]
        if not known:
            return None
        flags = 0
        for supplied in known:
            flags |= supplied
        return flags

    def max_state(self) -> int:
        """The highest state the parents' power allows (``fMaxPowerState``)."""
        table = self.table
        assert table is not None
        # parent_flags() inlined for one power parent: a system sleep or wake asks this of
        # every node, twice or more (the table remembers its answer for each flags).
        flags = self.parent_flags_fixed
        if flags is None:
            parents = self.parents
            flags = parents[0].parent_flags if len(parents) == 1 else self.parent_flags()
            if flags is None:
                return table.highest
        return table.for_domain(flags)

    def desired(self) -> int:
        """The maximum over power clients, raised by the floor, capped by an override
        (``computeDesiredState``)."""
        if self._desired is not None:
            return self._desired
        table = self.table
        assert table is not None
        rank = table.rank
        best = self.floor if self.floor is not None else table.lowest
        override = self.override
        for name, value in self.clients.items():
            if override is not None and name in _OVERRIDDEN:
                continue
            if rank[value] > rank[best]:
                best = value
        if override is not None and rank[override] < rank[best]:
            best = override
        self._desired = best
        return best

    def changed(self) -> None:
        """Forget cached answers: a client, the floor, the override or the table changed."""
        self._desired = None
        self._reshape = True

    def set_override(self, ceiling: int | None) -> None:
        self.override = ceiling
        self._desired = None

    def set_floor(self, floor: int | None) -> None:
        self.floor = floor
        self._desired = None

    def drop_client(self, name: str) -> bool:
        self._desired = None
        self._reshape = True
        return self.clients.pop(name, None) is not None

    def target(self) -> int:
        """Where a self-initiated change goes: the desire, within what the parents allow."""
        assert self.table is not None
        return self.table.lower(self.desired(), self.max_state())

    def set_client(self, name: str, ordinal: int) -> bool:
        """Record a power client's request; True when the desire may have changed."""
        if not ordinal and name not in _KEPT_AT_ZERO:
            return self.drop_client(name)
        if self.clients.get(name) == ordinal:
            return False
        self.clients[name] = ordinal
        self._desired = None
        self._reshape = True
        return True

    # -- the IOPowerManagement property ---------------------------------------------------------
    def publish(self, *, full: bool = False) -> None:
        """Write the live ``IOPowerManagement`` dictionary (what ``ioreg -l`` shows).

        The dictionary is rebuilt when its keys may change (a power client, the idle timer;
        ``full``); a change of state only updates it in place: this runs on every change of a
        10,000-node sleep. Every value is an int, so it is stored without the property check.
        """
        if self.stopped:
            return
        props = self.service._props
        published = self._published
        values: dict[str, Any]
        if not full and not self._reshape and props.get(POWER_MANAGEMENT) is published \
                and published is not None:
            values = published
        else:
            values = self._rebuild()
            props[POWER_MANAGEMENT] = values
        values["CurrentPowerState"] = self.current
        values["CapabilityFlags"] = self.capability_flags()
        if self.table is not None:
            desired = self.desired()
            if desired != self.current:
                values["DesiredPowerState"] = desired
            elif "DesiredPowerState" in values:
                del values["DesiredPowerState"]

    def _rebuild(self) -> dict[str, Any]:
        values: dict[str, Any] = dict(self.clients)
        if self.idle is not None and self.idle.period_s:
            values["IdleTimerPeriod"] = self.idle.period_s * 1000
            values["ActivityTickles"] = self.idle.tickles
        if self.table is not None:
            values["MaxPowerState"] = len(self.table) - 1
        self._published = values
        self._reshape = False
        return values
