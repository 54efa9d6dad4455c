"""IOPMLib's functions (``IOPMLib.h``): assertions, system sleep and the sleep/wake messages.

- ``IOPMAssertionCreateWithName(type, level, name)`` returns the assertion's id (an
  :class:`IOPMAssertionID`, remembering its connection); ``IOPMAssertionRelease(id)`` drops it.
  The kernel releases what a process still holds when it exits or dies, as powerd does.
- ``IORegisterForSystemPower(refcon, port, callback)`` opens the root domain's user client and
  has ``callback(refcon, root_domain, messageType, notificationID)`` called from
  ``IONotificationPortDispatch(port, ...)`` for ``kIOMessageCanSystemSleep``,
  ``kIOMessageSystemWillSleep``, ``kIOMessageSystemWillPowerOn`` and
  ``kIOMessageSystemHasPoweredOn``. The first two wait for ``IOAllowPowerChange(root_port,
  notificationID)`` or ``IOCancelPowerChange(...)`` (a cancel vetoes an idle sleep only);
  ``IODeregisterForSystemPower(root_port)`` ends it (C's ``notifier`` and ``IOServiceClose`` in
  one call).
- ``IOPMFindPowerManagement(mainPort)`` and ``IOPMSleepSystem(connection)``: a demand sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

from iokit_sdk.iokitlib.api import (
    IOServiceGetMatchingService,
    IOServiceMatching,
    MainPortArg,
    _port,
    mach_task_self,
)
from iokit_sdk.iokitlib.connect import (
    IOConnectCallAsyncScalarMethod,
    IOConnectCallScalarMethod,
    IOServiceClose,
    IOServiceOpen,
)
from iokit_sdk.iokitlib.notify import IONotificationPort
from iokit_sdk.iokitlib.objects import IO_OBJECT_NULL, io_connect_t, io_object_t
from iokit_sdk.iokitlib.port import MainPort
from iokit_sdk.returns import IOReturn, IOReturnError

__all__ = [
    "IOAllowPowerChange",
    "IOCancelPowerChange",
    "IODeregisterForSystemPower",
    "IOPMAssertionCreateWithName",
    "IOPMAssertionID",
    "IOPMAssertionRelease",
    "IOPMCopyAssertionsByProcess",
    "IOPMCopyAssertionsStatus",
    "IOPMFindPowerManagement",
    "IOPMSleepSystem",
    "IORegisterForSystemPower",
    "kIOPMAssertionLevelOff",
    "kIOPMAssertionLevelOn",
    "kIOPMAssertionTypeNoDisplaySleep",
    "kIOPMAssertionTypeNoIdleSleep",
    "kIOPMAssertionTypePreventSystemSleep",
    "kIOPMAssertionTypePreventUserIdleDisplaySleep",
    "kIOPMAssertionTypePreventUserIdleSystemSleep",
]

kIOPMAssertionLevelOff = 0
kIOPMAssertionLevelOn = 255
kIOPMAssertionTypePreventUserIdleSystemSleep = "PreventUserIdleSystemSleep"
kIOPMAssertionTypePreventUserIdleDisplaySleep = "PreventUserIdleDisplaySleep"
kIOPMAssertionTypePreventSystemSleep = "PreventSystemSleep"
kIOPMAssertionTypeNoIdleSleep = "NoIdleSleepAssertion"
kIOPMAssertionTypeNoDisplaySleep = "NoDisplaySleepAssertion"

#: RootDomainUserClient's selectors (IOPMPrivate.h); 8 is iokit-host's interest registration.
_SLEEP_SYSTEM, _ALLOW, _CANCEL, _REGISTER = 2, 3, 4, 8


class IOPMAssertionID(int):
    """An assertion's id; ``main_port`` is the connection that holds it."""

    main_port: MainPort

    def __new__(cls, value: int, main_port: MainPort) -> Self:
        assertion_id = super().__new__(cls, value)
        assertion_id.main_port = main_port
        return assertion_id


#: ``callback(refcon, root_domain, messageType, notificationID)`` (IOServiceInterestCallback).
SystemPowerCallback = Callable[[Any, io_object_t, int, int], None]


def IOPMAssertionCreateWithName(AssertionType: str, AssertionLevel: int, AssertionName: str,
                                mainPort: MainPortArg = 0) -> IOPMAssertionID:
    """Create an assertion; ``kIOReturnBadArgument`` for a type, level or name powerd
    refuses."""
    port = _port(mainPort)
    reply = port.call("pm_assertion_create", type=AssertionType, level=AssertionLevel,
                      name=AssertionName)
    return IOPMAssertionID(int(reply["assertion_id"]), port)


def IOPMAssertionRelease(AssertionID: int, mainPort: MainPortArg = 0) -> int:
    """Release an assertion this process created (``kIOReturnNotFound`` for another id)."""
    port = getattr(AssertionID, "main_port", None)
    (port if isinstance(port, MainPort) else _port(mainPort)).call(
        "pm_assertion_release", assertion_id=int(AssertionID))
    return IOReturn.SUCCESS


def IOPMCopyAssertionsByProcess(mainPort: MainPortArg = 0) -> dict[int, list[dict[str, Any]]]:
    """Every assertion, by owning pid (``AssertType``, ``AssertName``, ``AssertLevel``,
    ``GlobalUniqueID``, ``Process Name``)."""
    by_pid: dict[int, list[dict[str, Any]]] = {}
    for record in all_assertions(_port(mainPort).call)["assertions"]:
        by_pid.setdefault(int(record["pid"]), []).append({
            "AssertType": record["type"], "AssertName": record["name"],
            "AssertLevel": record["level"], "GlobalUniqueID": record["assertion_id"],
            "Process Name": record["owner"]})
    return by_pid


def IOPMCopyAssertionsStatus(mainPort: MainPortArg = 0) -> dict[str, int]:
    """Per assertion type, 1 when an assertion of it is on (``Assertion status system-wide``)."""
    return dict(_port(mainPort).call("pm_assertions", limit=0)["system_wide"])


def all_assertions(call: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The kernel's ``pm_assertions`` reply with every assertion, asked for a page at a
    time with ``call(op, **fields)`` (the kernel lists a few thousand per reply, so that a
    long list holds no other program's request back). The last reply's other fields stand
    (the status when the listing ended)."""
    listed: list[dict[str, Any]] = []
    while True:
        reply = call("pm_assertions", **({"after": listed[-1]["assertion_id"]}
                                          if listed else {}))
        page = reply["assertions"]
        listed += page
        if not (page and reply.get("more")):
            return {**reply, "assertions": listed}


def IOPMFindPowerManagement(mainPort: MainPortArg = 0) -> io_connect_t:
    """A connection to the root domain (``IOPMrootDomain``'s user client)."""
    root = IOServiceGetMatchingService(mainPort, IOServiceMatching("IOPMrootDomain"))
    if root == IO_OBJECT_NULL:
        raise IOReturnError(IOReturn.NOT_FOUND, "the kernel has no IOPMrootDomain")
    return IOServiceOpen(root, mach_task_self(), 0)


def IOPMSleepSystem(fb: io_connect_t) -> int:
    """Put the system to sleep (a demand sleep: programs are told, not asked)."""
    IOConnectCallScalarMethod(fb, _SLEEP_SYSTEM, [], 0)
    return IOReturn.SUCCESS


def IORegisterForSystemPower(refcon: Any, port: IONotificationPort,
                             callback: SystemPowerCallback) -> io_connect_t:
    """Have ``callback`` told of system sleep and wake on ``port``; returns the root domain
    connection to answer on (``IOAllowPowerChange``) and to deregister."""
    root = IOServiceGetMatchingService(port.main_port, IOServiceMatching("IOPMrootDomain"))
    if root == IO_OBJECT_NULL:
        raise IOReturnError(IOReturn.NOT_FOUND, "the kernel has no IOPMrootDomain")
    connection = IOServiceOpen(root, mach_task_self(), 0)

    def deliver(refcon_: Any, result: int, args: tuple[int, ...]) -> None:
        if len(args) >= 2:
            callback(refcon_, root, args[0], args[1])

    try:
        IOConnectCallAsyncScalarMethod(connection, _REGISTER, port, [0, deliver, refcon], [], 0)
    except BaseException:
        IOServiceClose(connection)
        raise
    return connection


def IODeregisterForSystemPower(root_port: io_connect_t) -> int:
    """Stop the messages and close the root domain connection; questions not yet answered
    are allowed."""
    IOServiceClose(root_port)
    return IOReturn.SUCCESS


def IOAllowPowerChange(kernelPort: io_connect_t, notificationID: int) -> int:
    """Answer a ``kIOMessageCanSystemSleep`` or ``kIOMessageSystemWillSleep``: go ahead."""
    IOConnectCallScalarMethod(kernelPort, _ALLOW, [notificationID], 0)
    return IOReturn.SUCCESS


def IOCancelPowerChange(kernelPort: io_connect_t, notificationID: int) -> int:
    """Answer a ``kIOMessageCanSystemSleep`` with a veto (a demand sleep goes on)."""
    IOConnectCallScalarMethod(kernelPort, _CANCEL, [notificationID], 0)
    return IOReturn.SUCCESS
