"""IOKit's common messages (``IOKit/IOMessage.h``): what ``message()`` and interest notifications
carry. ``iokit_common_msg(x)`` is ``0xE0000000 | x``; names and values are Apple's."""

from __future__ import annotations

__all__ = [
    "MESSAGE_NAMES",
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
]

kIOMessageServiceIsTerminated = 0xE0000010
kIOMessageServiceIsSuspended = 0xE0000020
kIOMessageServiceIsResumed = 0xE0000030
kIOMessageServiceIsRequestingClose = 0xE0000100
kIOMessageServiceIsAttemptingOpen = 0xE0000101
kIOMessageServiceWasClosed = 0xE0000110
kIOMessageServiceBusyStateChange = 0xE0000120
kIOMessageServicePropertyChange = 0xE0000130
kIOMessageCanDevicePowerOff = 0xE0000200
kIOMessageDeviceWillPowerOff = 0xE0000210
kIOMessageDeviceWillPowerOn = 0xE0000215
kIOMessageDeviceWillNotPowerOff = 0xE0000220
kIOMessageDeviceHasPoweredOff = 0xE0000225
kIOMessageDeviceHasPoweredOn = 0xE0000230
kIOMessageCanSystemPowerOff = 0xE0000240
kIOMessageSystemWillPowerOff = 0xE0000250
kIOMessageSystemWillNotPowerOff = 0xE0000260
kIOMessageCanSystemSleep = 0xE0000270
kIOMessageSystemWillSleep = 0xE0000280
kIOMessageSystemWillNotSleep = 0xE0000290
kIOMessageSystemHasPoweredOn = 0xE0000300
kIOMessageSystemWillRestart = 0xE0000310
kIOMessageSystemWillPowerOn = 0xE0000320
kIOMessageSystemCapabilityChange = 0xE0000340

#: value -> Apple's name, for logs and explanations.
MESSAGE_NAMES = {value: name for name, value in globals().items()
                 if name.startswith("kIOMessage") and isinstance(value, int)}
