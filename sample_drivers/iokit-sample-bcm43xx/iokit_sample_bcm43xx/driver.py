"""AppleBCM43xx: a vendor driver that outbids its family by probing the chip it knows.

Passive matching gives every personality for the BCM4331 a chance; ``probe`` is where a
driver looks at the device and bids. This one bids 5000 for chips in its table, far above the
family's own 1500 and a generic driver's 100, and declines anything else.

Power comes from the family (off and on, joined under the PCI nub). As a Broadcom card does,
the chip loses its firmware when its power goes for sleep, so each power-up after the first
loads it again (``firmware_loads``).
"""

from __future__ import annotations

from iokit_sample_wlan_family import IOWLANDriver
from iokit_sdk import IOService

__all__ = ["SUPPORTED_CHIPS", "VENDOR_SCORE", "AppleBCM43xx"]

#: PCI device id -> chip name, for Broadcom (vendor 0x14e4) parts this driver supports.
SUPPORTED_CHIPS = {0x4331: "BCM4331", 0x4353: "BCM43224", 0x43A0: "BCM4360"}

#: What ``probe`` bids for a supported chip.
VENDOR_SCORE = 5000


def pci_id(provider: IOService, key: str) -> int | None:
    """A PCI id property (``vendor-id``, ``device-id``) as a number.

    Real PCI nubs carry these as 4 bytes of little-endian data; machine models may give
    a plain number. Either reads the same.
    """
    value = provider.get_property(key)
    if isinstance(value, bytes):
        return int.from_bytes(value[:4], "little")
    if isinstance(value, int):
        return value
    return None


class AppleBCM43xx(IOWLANDriver):
    """Drives the BCM43xx chips listed in :data:`SUPPORTED_CHIPS`."""

    #: How many times the chip's firmware was loaded: at the first power-up and each wake.
    firmware_loads: int = 0

    def probe(self, provider: IOService, score: int) -> int | None:
        # Decline what the table does not know: a broader IOPCIMatch would otherwise make
        # this driver win chips it cannot run.
        if self.chip_name(provider) not in SUPPORTED_CHIPS.values():
            return None
        return max(score, VENDOR_SCORE)

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        self.set_property("IOFirmwareVersion", "7.15.166.24")
        return True

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        if ordinal and not self.radio_on:
            self.firmware_loads += 1  # powered up: the chip needs its firmware again
        return super().set_power_state(ordinal, device)

    def chip_name(self, provider: IOService) -> str:
        device = pci_id(provider, "device-id")
        return SUPPORTED_CHIPS.get(device, f"unknown-{device}") if device is not None else "?"
