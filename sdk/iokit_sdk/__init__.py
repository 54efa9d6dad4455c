"""iokit-sdk: what a driver imports to be an IOKit-style driver for iokit-host.

A driver is a subclass of :class:`IOService` named by ``IOClass`` in its kext's Info.plist.
The kernel drives it through the pluggy hooks in :mod:`iokit_sdk.hookspecs`; host plugins
implement hooks with :data:`hookimpl`. Power management's names are here too: the
:class:`IOPMPowerState` table rows and ``kIOPM*`` flags (:mod:`iokit_sdk.power`), the
``kIOMessage*`` system messages (:mod:`iokit_sdk.messages`) and
:class:`IOPowerStateChangeNotification`; the power methods themselves are
:class:`IOService`'s (:mod:`iokit_sdk.pm`).
"""

from typing import TYPE_CHECKING, Any

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.messages import (
    kIOMessageCanDevicePowerOff,
    kIOMessageCanSystemPowerOff,
    kIOMessageCanSystemSleep,
    kIOMessageDeviceHasPoweredOff,
    kIOMessageDeviceHasPoweredOn,
    kIOMessageDeviceWillNotPowerOff,
    kIOMessageDeviceWillPowerOff,
    kIOMessageDeviceWillPowerOn,
    kIOMessageServiceBusyStateChange,
    kIOMessageServiceIsAttemptingOpen,
    kIOMessageServiceIsRequestingClose,
    kIOMessageServiceIsResumed,
    kIOMessageServiceIsSuspended,
    kIOMessageServiceIsTerminated,
    kIOMessageServicePropertyChange,
    kIOMessageServiceWasClosed,
    kIOMessageSystemCapabilityChange,
    kIOMessageSystemHasPoweredOn,
    kIOMessageSystemWillNotPowerOff,
    kIOMessageSystemWillNotSleep,
    kIOMessageSystemWillPowerOff,
    kIOMessageSystemWillPowerOn,
    kIOMessageSystemWillRestart,
    kIOMessageSystemWillSleep,
)
from iokit_sdk.pm import IOPowerStateChangeNotification
from iokit_sdk.power import (
    IOPMPowerState,
    kIOPMAckImplied,
    kIOPMAuxPowerOn,
    kIOPMBadSpecification,
    kIOPMClockNormal,
    kIOPMConfigRetained,
    kIOPMContextRetained,
    kIOPMDeviceUsable,
    kIOPMInitialDeviceState,
    kIOPMLowPower,
    kIOPMNoSuchState,
    kIOPMNotAttainable,
    kIOPMNotYetInitialized,
    kIOPMPowerOn,
    kIOPMPowerStateVersion1,
    kIOPMPowerStateVersion2,
    kIOPMPreventIdleSleep,
    kIOPMRestart,
    kIOPMRestartCapability,
    kIOPMRootDomainState,
    kIOPMSleep,
    kIOPMSleepCapability,
    kIOPMSuperclassPolicy1,
    kIOPMWillAckLater,
)
from iokit_sdk.returns import IOReturn
from iokit_sdk.service import IOResources, IOService, Kernel, ServiceState
from iokit_sdk.values import OSNumber, PropertyValue

if TYPE_CHECKING:
    from iokit_sdk.hookspecs import hookimpl, hookspec

__all__ = [
    "IOPMPowerState",
    "IOPowerStateChangeNotification",
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
    "kIOMessageCanDevicePowerOff",
    "kIOMessageCanSystemPowerOff",
    "kIOMessageCanSystemSleep",
    "kIOMessageDeviceHasPoweredOff",
    "kIOMessageDeviceHasPoweredOn",
    "kIOMessageDeviceWillNotPowerOff",
    "kIOMessageDeviceWillPowerOff",
    "kIOMessageDeviceWillPowerOn",
    "kIOMessageServiceBusyStateChange",
    "kIOMessageServiceIsAttemptingOpen",
    "kIOMessageServiceIsRequestingClose",
    "kIOMessageServiceIsResumed",
    "kIOMessageServiceIsSuspended",
    "kIOMessageServiceIsTerminated",
    "kIOMessageServicePropertyChange",
    "kIOMessageServiceWasClosed",
    "kIOMessageSystemCapabilityChange",
    "kIOMessageSystemHasPoweredOn",
    "kIOMessageSystemWillNotPowerOff",
    "kIOMessageSystemWillNotSleep",
    "kIOMessageSystemWillPowerOff",
    "kIOMessageSystemWillPowerOn",
    "kIOMessageSystemWillRestart",
    "kIOMessageSystemWillSleep",
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


def __getattr__(name: str) -> Any:
    """``hookimpl`` and ``hookspec`` on first use: they import pluggy, which a driver
    (notably one in its own process, a dext) never needs."""
    if name in ("hookimpl", "hookspec"):
        from iokit_sdk import hookspecs

        return getattr(hookspecs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
