"""Stand-in power management for services a machine model or a real dump records as power managed.

A dump's entry with an ``IOPowerManagement`` dictionary was power managed on the Mac, by a
driver that is not here. At boot each gets a stand-in: a table of ``MaxPowerState + 1`` states
(the top one ``kIOPMPowerOn | kIOPMDeviceUsable``, in and out ``kIOPMPowerOn``; those between
``kIOPMLowPower``, still supplying ``kIOPMPowerOn``; state 0 off), joined to its nearest power-managed provider (else the root
domain), in the state it was recorded in and desiring it, with the recorded ``DevicePowerState``,
``DriverPowerState`` and ``ChildProxyPowerState`` as its power clients (a record whose clients
ask for more than its current state had a ceiling on the Mac: the stand-in keeps it, so a wake
brings it back to the recorded state, not above). The service's own
``set_power_state`` (IOService's: acknowledged at once) is what a sleep and a wake call, so a
real Mac's tree sleeps and wakes with every recorded device in it.

Recorded values are dump data: anything that is not a small non-negative integer is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from iokit_sdk.power import IOPMPowerState, kIOPMDeviceUsable, kIOPMLowPower, kIOPMPowerOn

from iokit_host.power.pm import CHILD_PROXY, DEVICE, DRIVER
from iokit_host.power.tables import StateTable

__all__ = ["MAX_STAND_IN_STATE", "RecordedPM", "read_recorded", "stand_in_table"]

#: The highest ``MaxPowerState`` a stand-in takes from a record (real drivers have < 10).
MAX_STAND_IN_STATE = 31


@cache
def stand_in_table(count: int) -> StateTable:
    """The stand-in table of ``count`` states (at least two)."""
    count = max(2, count)
    states = [IOPMPowerState()]
    for _ in range(1, count - 1):
        # The states between supply power too: a recorded parent in one of them kept its
        # children on, and the stand-ins must boot in the recorded states.
        states.append(IOPMPowerState(capability_flags=kIOPMLowPower,
                                     output_power_character=kIOPMPowerOn,
                                     input_power_requirement=kIOPMPowerOn))
    states.append(IOPMPowerState(capability_flags=kIOPMPowerOn | kIOPMDeviceUsable,
                                 output_power_character=kIOPMPowerOn,
                                 input_power_requirement=kIOPMPowerOn))
    return StateTable.of(states)


class RecordedPM:
    """What a record says: the table size, the state it was in and its clients' requests."""

    __slots__ = ("clients", "current", "table")

    def __init__(self, table: StateTable, current: int, clients: dict[str, int]) -> None:
        self.table = table
        self.current = current
        self.clients = clients


def read_recorded(value: object) -> RecordedPM | None:
    """A recorded ``IOPowerManagement`` value as a stand-in's starting point; None when it is
    not a dictionary."""
    if not isinstance(value, Mapping):
        return None
    current = _small(value.get("CurrentPowerState"))
    highest = _small(value.get("MaxPowerState"))
    if highest is None:
        highest = current if current is not None else 1
    table = stand_in_table(max(highest, 1) + 1)
    top = len(table) - 1
    current = top if current is None else min(current, top)
    clients = {}
    for name in (DEVICE, DRIVER, CHILD_PROXY):
        recorded = _small(value.get(name))
        if recorded is not None:
            clients[name] = min(recorded, top)
    return RecordedPM(table, current, clients)


def _small(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    number = int(value)
    return number if 0 <= number <= MAX_STAND_IN_STATE else None
