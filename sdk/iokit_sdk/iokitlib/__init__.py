"""IOKitLib for Python: what a user-space program imports to talk to a running kernel.

On macOS a program links IOKit.framework and calls ``IOServiceGetMatchingService``,
``IOServiceOpen``, ``IOConnectCallMethod`` and friends, which send Mach messages to the
kernel. Here the same names, with the same argument order, talk to a running ``iokit kernel``
over its Unix-domain socket (``$IOKIT_KERNEL``, else the per-user default); nothing of the host
is imported. A failing ``IOReturn`` raises :class:`IOReturnError` with the code and its
``kIOReturn...`` name; see docs/userclients.md and docs/protocol.md.

    from iokit_sdk.iokitlib import *

    service = IOServiceGetMatchingService(kIOMainPortDefault, IOServiceMatching("AppleSMC"))
    connect = IOServiceOpen(service, mach_task_self(), 0)
    (count,), _ = IOConnectCallMethod(connect, 2, (), b"", 1, 0)
    IOServiceClose(connect)

Not yet here: ``IOConnectMapMemory`` (shared memory) and the power APIs
(``IOPMAssertionCreateWithName``, ``IORegisterForSystemPower``).
"""

from iokit_sdk.iokitlib.api import (
    MAX_STRUCT_INPUT,
    IOConnectCallAsyncMethod,
    IOConnectCallAsyncScalarMethod,
    IOConnectCallAsyncStructMethod,
    IOConnectCallMethod,
    IOConnectCallScalarMethod,
    IOConnectCallStructMethod,
    IOIteratorIsValid,
    IOIteratorNext,
    IOIteratorReset,
    IOMainPort,
    IONotificationPortCreate,
    IONotificationPortDestroy,
    IONotificationPortDispatch,
    IONotificationPortGetMachPort,
    IOObjectConformsTo,
    IOObjectGetClass,
    IOObjectIsEqualTo,
    IOObjectRelease,
    IOObjectRetain,
    IORegistryEntryCreateCFProperties,
    IORegistryEntryCreateCFProperty,
    IORegistryEntryGetChildIterator,
    IORegistryEntryGetName,
    IORegistryEntryGetNameInPlane,
    IORegistryEntryGetParentEntry,
    IORegistryEntryGetPath,
    IORegistryEntryGetRegistryEntryID,
    IORegistryEntryIDMatching,
    IOServiceAddInterestNotification,
    IOServiceAddMatchingNotification,
    IOServiceClose,
    IOServiceGetMatchingService,
    IOServiceGetMatchingServices,
    IOServiceMatching,
    IOServiceNameMatching,
    IOServiceOpen,
    kIOAsyncCalloutFuncIndex,
    kIOAsyncCalloutRefconIndex,
    kIOAsyncReservedIndex,
    kIOBusyInterest,
    kIOFirstMatchNotification,
    kIOFirstPublishNotification,
    kIOGeneralInterest,
    kIOMainPortDefault,
    kIOMasterPortDefault,
    kIOMatchedNotification,
    kIOPublishNotification,
    kIOTerminatedNotification,
    mach_task_self,
)
from iokit_sdk.iokitlib.notify import IONotificationPort
from iokit_sdk.iokitlib.objects import (
    IO_OBJECT_NULL,
    io_connect_t,
    io_iterator_t,
    io_object_t,
    io_registry_entry_t,
    io_service_t,
    task_t,
)
from iokit_sdk.iokitlib.port import KernelConnectionError, MainPort, ProtocolVersionError
from iokit_sdk.returns import IOReturn, IOReturnError, return_name
from iokit_sdk.userclient import kIOConnectMethodVarOutputSize

__all__ = [
    "IO_OBJECT_NULL",
    "MAX_STRUCT_INPUT",
    "IOConnectCallAsyncMethod",
    "IOConnectCallAsyncScalarMethod",
    "IOConnectCallAsyncStructMethod",
    "IOConnectCallMethod",
    "IOConnectCallScalarMethod",
    "IOConnectCallStructMethod",
    "IOIteratorIsValid",
    "IOIteratorNext",
    "IOIteratorReset",
    "IOMainPort",
    "IONotificationPort",
    "IONotificationPortCreate",
    "IONotificationPortDestroy",
    "IONotificationPortDispatch",
    "IONotificationPortGetMachPort",
    "IOObjectConformsTo",
    "IOObjectGetClass",
    "IOObjectIsEqualTo",
    "IOObjectRelease",
    "IOObjectRetain",
    "IORegistryEntryCreateCFProperties",
    "IORegistryEntryCreateCFProperty",
    "IORegistryEntryGetChildIterator",
    "IORegistryEntryGetName",
    "IORegistryEntryGetNameInPlane",
    "IORegistryEntryGetParentEntry",
    "IORegistryEntryGetPath",
    "IORegistryEntryGetRegistryEntryID",
    "IORegistryEntryIDMatching",
    "IOReturn",
    "IOReturnError",
    "IOServiceAddInterestNotification",
    "IOServiceAddMatchingNotification",
    "IOServiceClose",
    "IOServiceGetMatchingService",
    "IOServiceGetMatchingServices",
    "IOServiceMatching",
    "IOServiceNameMatching",
    "IOServiceOpen",
    "KernelConnectionError",
    "MainPort",
    "ProtocolVersionError",
    "io_connect_t",
    "io_iterator_t",
    "io_object_t",
    "io_registry_entry_t",
    "io_service_t",
    "kIOAsyncCalloutFuncIndex",
    "kIOAsyncCalloutRefconIndex",
    "kIOAsyncReservedIndex",
    "kIOBusyInterest",
    "kIOConnectMethodVarOutputSize",
    "kIOFirstMatchNotification",
    "kIOFirstPublishNotification",
    "kIOGeneralInterest",
    "kIOMainPortDefault",
    "kIOMasterPortDefault",
    "kIOMatchedNotification",
    "kIOPublishNotification",
    "kIOTerminatedNotification",
    "mach_task_self",
    "return_name",
    "task_t",
]
