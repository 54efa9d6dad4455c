"""The host's built-in personalities: drivers the kernel itself provides (``KernelConfigTables``).

xnu starts its catalogue with a few personalities compiled into the kernel. The host does the
same with a generic PCI driver: ``IOPCIDeviceGeneric`` (score 100 on ``IOPCIDevice``) binds any
PCI nub no installed kext wants, so an unclaimed device still shows a driver in ioreg, and any
real driver outbids it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from iokit_sdk import keys
from iokit_sdk.service import IOService

__all__ = ["BUILTIN_BUNDLE_ID", "BUILTIN_CLASSES", "BUILTIN_PERSONALITIES", "IOPCIDeviceGeneric"]

BUILTIN_BUNDLE_ID = "org.iokit-host.builtin"


class IOPCIDeviceGeneric(IOService):
    """Claims a PCI device that no kext drives; does nothing else."""

    def start(self, provider: IOService) -> bool:
        # Registered like every started driver on a Mac, so ioreg shows it "registered, matched".
        self.register_service()
        return True


BUILTIN_CLASSES: tuple[type[IOService], ...] = (IOPCIDeviceGeneric,)

BUILTIN_PERSONALITIES: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    "IOPCIDeviceGeneric": MappingProxyType({
        keys.CLASS: "IOPCIDeviceGeneric",
        keys.PROVIDER_CLASS: "IOPCIDevice",
        keys.PROBE_SCORE: 100,
        keys.BUNDLE_IDENTIFIER: BUILTIN_BUNDLE_ID,
    }),
})
