"""iokit-sdk: what a driver imports to be an IOKit-style driver for iokit-host.

A driver is a subclass of :class:`IOService` named by ``IOClass`` in its kext's Info.plist.
The kernel drives it through the pluggy hooks in :mod:`iokit_sdk.hookspecs`; host plugins
implement hooks with :data:`hookimpl`.
"""

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.hookspecs import hookimpl, hookspec
from iokit_sdk.returns import IOReturn
from iokit_sdk.service import IOResources, IOService, Kernel, ServiceState
from iokit_sdk.values import OSNumber, PropertyValue

__all__ = [
    "IORegistryEntry",
    "IOResources",
    "IOReturn",
    "IOService",
    "Kernel",
    "OSNumber",
    "PropertyValue",
    "ServiceState",
    "hookimpl",
    "hookspec",
]
