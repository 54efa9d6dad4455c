"""A generic PCI kext: claims, at a low score, every PCI device no other kext drives."""

from __future__ import annotations

from iokit_sample_pci_generic.driver import IOPCIDeviceGeneric

__all__ = ["IOPCIDeviceGeneric"]
