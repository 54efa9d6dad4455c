"""IOWLANDriver: the WLAN family's driver class (IO80211Controller's role).

Vendor drivers subclass it and override ``probe`` to claim the chips they know better. The
family's own personality keeps the score it was matched with (1500), so any vendor driver that
probes higher wins the ``IODefaultMatchCategory`` and this one is never started.

Power: a Wi-Fi card has two states, off and on (:data:`WLAN_POWER_STATES`). The controller
joins the power tree under its PCI nub and asks to be on; when the system sleeps the nub's
power goes and the kernel calls ``set_power_state(0)`` (the radio powers down, its link is
gone), and on wake ``set_power_state(1)`` brings the radio back up.
"""

from __future__ import annotations

from iokit_sdk import IOService
from iokit_sdk.power import (
    IOPMPowerState,
    kIOPMAckImplied,
    kIOPMDeviceUsable,
    kIOPMPowerOn,
)

__all__ = ["FAMILY_API_VERSION", "WLAN_OFF", "WLAN_ON", "WLAN_POWER_STATES", "IOWLANDriver"]

#: The family interface this build provides; vendor drivers may check it in ``start``.
FAMILY_API_VERSION = 2

WLAN_OFF, WLAN_ON = 0, 1
#: Off (the radio unpowered), then on: usable, needing the PCI slot's power.
WLAN_POWER_STATES = (
    IOPMPowerState(),
    IOPMPowerState(capability_flags=kIOPMPowerOn | kIOPMDeviceUsable,
                   output_power_character=kIOPMPowerOn, input_power_requirement=kIOPMPowerOn),
)


class IOWLANDriver(IOService):
    """A Wi-Fi controller driver on a PCI nub.

    ``probe`` is inherited unchanged (it returns the personality's ``IOProbeScore``);
    ``start`` publishes the properties every WLAN controller carries and joins power
    management; ``set_power_state`` powers the radio down for sleep and up on wake.
    """

    #: Whether the radio is powered (what ``set_power_state`` last did).
    radio_on: bool = False

    def start(self, provider: IOService) -> bool:
        # The base class's start must succeed first: it is where IOKit wires up the driver.
        if not super().start(provider):
            return False
        self.set_property("IOWLANFamilyVersion", FAMILY_API_VERSION)
        self.set_property("IOWLANChip", self.chip_name(provider))
        # Power management, in IOKit's order: PMinit, join the tree under the PCI nub,
        # register the table, then ask for the on state (the kernel calls set_power_state).
        self.pm_init()
        provider.join_pm_tree(self)
        self.register_power_driver(self, WLAN_POWER_STATES)
        self.change_power_state_to(WLAN_ON)
        # Publish the driver itself, as IOKit drivers do, so clients can match on it.
        self.register_service()
        return True

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        """Power the radio down (0: system sleep, the slot loses power) or up (1)."""
        self.radio_on = ordinal == WLAN_ON
        return kIOPMAckImplied

    def chip_name(self, provider: IOService) -> str:
        """The chip this driver runs; vendor subclasses name theirs."""
        return provider.get_name()
