"""IOPCIDeviceGeneric: a catch-all driver, the lowest bidder on every PCI device.

Its personality names only ``IOProviderClass`` (``IOPCIDevice``), so it matches every PCI nub,
and bids ``IOProbeScore`` 100: any driver written for a device outbids it, and it is started
only where no other kext wants the device. macOS ships no such driver (an unclaimed PCI device
simply has no client in ioreg); this one is here to show a fallback losing the auction.

It keeps the device powered while it drives it: two power states (off, on), joined under its
PCI nub, so a system sleep powers it down and a wake brings it back with its slot.
"""

from __future__ import annotations

from iokit_sdk import IOService
from iokit_sdk.power import IOPMPowerState, kIOPMDeviceUsable, kIOPMPowerOn

__all__ = ["GENERIC_POWER_STATES", "IOPCIDeviceGeneric"]

#: Off, then on (usable, needing the slot's power).
GENERIC_POWER_STATES = (
    IOPMPowerState(),
    IOPMPowerState(capability_flags=kIOPMPowerOn | kIOPMDeviceUsable,
                   output_power_character=kIOPMPowerOn, input_power_requirement=kIOPMPowerOn),
)


class IOPCIDeviceGeneric(IOService):
    """Claims a PCI device that no other kext drives; does nothing else."""

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        # Registered like every started driver on a Mac, so ioreg shows it "registered, matched".
        self.register_service()
        self.pm_init()
        provider.join_pm_tree(self)
        self.register_power_driver(self, GENERIC_POWER_STATES)
        self.make_usable()
        return True
