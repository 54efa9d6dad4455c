"""Power-state tables and their flags: ``IOPMPowerState`` (``IOKit/pwr_mgt/IOPMpowerState.h``,
``IOPM.h``).

A power-managed driver describes its device's states in a table, lowest power first, and
registers it with ``register_power_driver``. Each state says what the device can do in it
(``capability_flags``), what it supplies to its power children (``output_power_character``)
and what it needs from its power parent (``input_power_requirement``). The kernel picks the
highest state whose input requirement the parent's output covers, and drives transitions with
``set_power_state``. Flag names and values are Apple's.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "IOPMPowerState",
    "kIOPMAckImplied",
    "kIOPMAuxPowerOn",
    "kIOPMBadSpecification",
    "kIOPMClockNormal",
    "kIOPMConfigRetained",
    "kIOPMContextRetained",
    "kIOPMDeviceUsable",
    "kIOPMInitialDeviceState",
    "kIOPMLowPower",
    "kIOPMNoSuchState",
    "kIOPMNotAttainable",
    "kIOPMNotYetInitialized",
    "kIOPMPowerOn",
    "kIOPMPowerStateVersion1",
    "kIOPMPowerStateVersion2",
    "kIOPMPreventIdleSleep",
    "kIOPMRestart",
    "kIOPMRestartCapability",
    "kIOPMRootDomainState",
    "kIOPMSleep",
    "kIOPMSleepCapability",
    "kIOPMSuperclassPolicy1",
    "kIOPMWillAckLater",
]

# -- capability, output and input flags (IOPM.h) ----------------------------------------------
kIOPMNotAttainable = 0x0001
kIOPMPowerOn = 0x0002
kIOPMClockNormal = 0x0004
kIOPMSleepCapability = 0x0004
kIOPMAuxPowerOn = 0x0020
kIOPMPreventIdleSleep = 0x0040
kIOPMRestartCapability = 0x0080
kIOPMSleep = 0x0001
kIOPMRestart = 0x0080
kIOPMInitialDeviceState = 0x0100
kIOPMRootDomainState = 0x0200
kIOPMConfigRetained = 0x1000
kIOPMContextRetained = 0x2000
kIOPMDeviceUsable = 0x8000
kIOPMLowPower = 0x10000

# -- versions of the table ----------------------------------------------------------------------
kIOPMPowerStateVersion1 = 1
kIOPMPowerStateVersion2 = 2  # adds state_order

# -- what set_power_state and friends return (IOPM.h) --------------------------------------------
kIOPMAckImplied = 0  # done; also IOPMNoErr
kIOPMWillAckLater = 1  # deprecated: a positive value is "I will acknowledge within N µs"
kIOPMBadSpecification = 4
kIOPMNoSuchState = 5
kIOPMNotYetInitialized = 8

# -- activity_tickle policies ---------------------------------------------------------------------
kIOPMSuperclassPolicy1 = 1


@dataclass(frozen=True, slots=True)
class IOPMPowerState:
    """One row of a power-state table (``IOPMPowerState``).

    :param version: 1, or 2 to order states by ``state_order`` instead of their index.
    :param capability_flags: what the device can do in this state (``kIOPMDeviceUsable`` ...).
    :param output_power_character: what the state supplies to power children.
    :param input_power_requirement: what it needs from the power parent (``kIOPMPowerOn``).
    :param static_power: milliwatts drawn (informational, as in IOKit).
    :param state_order: the state's rank when ``version`` is 2 (a permutation of 0..n-1).

    ``power_to_attain`` and the settle and attain times are kept for completeness; IOKit does
    not use them either.
    """

    version: int = kIOPMPowerStateVersion1
    capability_flags: int = 0
    output_power_character: int = 0
    input_power_requirement: int = 0
    static_power: int = 0
    state_order: int = 0
    power_to_attain: int = 0
    time_to_attain: int = 0
    settle_up_time: int = 0
    time_to_lower: int = 0
    settle_down_time: int = 0
    power_domain_budget: int = 0
