"""IOPCIDeviceGeneric: a catch-all driver, the lowest bidder on every PCI device.

Its personality names only ``IOProviderClass`` (``IOPCIDevice``), so it matches every PCI nub,
and bids ``IOProbeScore`` 100: any driver written for a device outbids it, and it is started
only where no other kext wants the device. macOS ships no such driver (an unclaimed PCI device
simply has no client in ioreg); this one is here to show a fallback losing the auction.
"""

from __future__ import annotations

from iokit_sdk import IOService

__all__ = ["IOPCIDeviceGeneric"]


class IOPCIDeviceGeneric(IOService):
    """Claims a PCI device that no other kext drives; does nothing else."""

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        # Registered like every started driver on a Mac, so ioreg shows it "registered, matched".
        self.register_service()
        return True
