"""IOKitLib's functions, with its names and argument order (``IOKitLib.h``, ``IOKitLib.c``).

What C returns through out-parameters is the return value here, and a failing ``IOReturn``
raises :class:`~iokit_sdk.returns.IOReturnError` carrying the code and its ``kIOReturn...``
name. The user-client calls (``IOServiceOpen``, ``IOConnectCall*Method``) are in
:mod:`iokit_sdk.iokitlib.connect`. ``mainPort`` is
``kIOMainPortDefault`` (0), the process's connection to ``$IOKIT_KERNEL`` (else the per-user
socket), or a :class:`MainPort` of the program's own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from iokit_sdk.iokitlib.notify import (
    InterestCallback,
    IONotificationPort,
    MatchingCallback,
)
from iokit_sdk.iokitlib.objects import (
    IO_OBJECT_NULL,
    io_iterator_t,
    io_object_t,
    io_registry_entry_t,
    io_service_t,
    task_t,
)
from iokit_sdk.iokitlib.port import MainPort
from iokit_sdk.returns import IOReturn, IOReturnError

__all__ = [
    "IOIteratorIsValid",
    "IOIteratorNext",
    "IOIteratorReset",
    "IOMainPort",
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
    "IOServiceAddInterestNotification",
    "IOServiceAddMatchingNotification",
    "IOServiceGetMatchingService",
    "IOServiceGetMatchingServices",
    "IOServiceMatching",
    "IOServiceNameMatching",
    "kIOBusyInterest",
    "kIOFirstMatchNotification",
    "kIOFirstPublishNotification",
    "kIOGeneralInterest",
    "kIOMainPortDefault",
    "kIOMasterPortDefault",
    "kIOMatchedNotification",
    "kIOPublishNotification",
    "kIOTerminatedNotification",
    "mach_task_self",
]

kIOMainPortDefault = 0
kIOMasterPortDefault = 0
kIOPublishNotification = "IOServicePublish"
kIOFirstPublishNotification = "IOServiceFirstPublish"
kIOMatchedNotification = "IOServiceMatched"
kIOFirstMatchNotification = "IOServiceFirstMatch"
kIOTerminatedNotification = "IOServiceTerminate"
kIOGeneralInterest = "IOGeneralInterest"
kIOBusyInterest = "IOBusyInterest"

MainPortArg = MainPort | int


class _DefaultPort:
    """The process's ``kIOMainPortDefault`` connection, made on first use and again in a
    forked child (a child must not share its parent's socket)."""

    def __init__(self) -> None:
        self._port: MainPort | None = None
        self._lock = threading.Lock()

    def get(self) -> MainPort:
        with self._lock:
            port = self._port
            if port is None or port.pid != os.getpid() or port.closed_reason is not None:
                port = self._port = MainPort()
            return port


_DEFAULT = _DefaultPort()


def IOMainPort(bootstrapPort: int = 0) -> MainPort:
    """The default main port (``IOMainPort(MACH_PORT_NULL, &port)``)."""
    return _DEFAULT.get()


def mach_task_self() -> task_t:
    """This process's task (its pid); ``IOServiceOpen`` takes it as ``owningTask``."""
    return task_t(os.getpid())


def _port(main_port: MainPortArg) -> MainPort:
    if isinstance(main_port, MainPort):
        return main_port
    if main_port == kIOMainPortDefault:
        return _DEFAULT.get()
    raise IOReturnError(IOReturn.BAD_ARGUMENT, f"not a main port: {main_port!r}")


def _owner(obj: io_object_t) -> MainPort:
    port = getattr(obj, "main_port", None)
    if not isinstance(port, MainPort) or not obj:
        raise IOReturnError(IOReturn.BAD_ARGUMENT, f"not an IOKit object: {obj!r}")
    return port


# -- matching -------------------------------------------------------------------------------
def IOServiceMatching(name: str) -> dict[str, Any]:
    """``{"IOProviderClass": name}``: services of class ``name`` or a subclass."""
    return {"IOProviderClass": name}


def IOServiceNameMatching(name: str) -> dict[str, Any]:
    """``{"IONameMatch": name}``: services whose name (or compatible) is ``name``."""
    return {"IONameMatch": name}


def IORegistryEntryIDMatching(entryID: int) -> dict[str, Any]:
    return {"IORegistryEntryID": entryID}


def IOServiceGetMatchingService(mainPort: MainPortArg,
                                matching: Mapping[str, Any]) -> io_service_t:
    """The first matched service matching ``matching``, or ``IO_OBJECT_NULL``."""
    port = _port(mainPort)
    reply = port.call("get_matching", matching=dict(matching), single=True)
    objects = reply.get("objects") or [0]
    return io_object_t(objects[0], port) if objects[0] else IO_OBJECT_NULL


def IOServiceGetMatchingServices(mainPort: MainPortArg,
                                 matching: Mapping[str, Any]) -> io_iterator_t:
    """An iterator over every matched service matching ``matching``: the kernel keeps the
    set, and ``IOIteratorNext`` takes its services a batch at a time (however many there
    are: more than the 65,536 objects a program may hold at once are fine, taken and
    released as it goes)."""
    port = _port(mainPort)
    reply = port.call("get_matching", matching=dict(matching), single=False)
    return _iterator(port, reply)


def _iterator(port: MainPort, reply: Mapping[str, Any]) -> io_iterator_t:
    handle = reply.get("iterator")
    if type(handle) is not int or not handle:
        raise port.garbled("get_matching", "iterator", handle)
    return io_iterator_t.kernel(port, handle, reply)


# -- objects and iterators ------------------------------------------------------------------
def IOIteratorNext(iterator: io_iterator_t) -> io_object_t:
    """The next object (which the caller releases), or ``IO_OBJECT_NULL`` at the end."""
    return iterator.next_object()


def IOIteratorReset(iterator: io_iterator_t) -> None:
    """Start over at the first object; the objects come again, each a new reference. A
    notification's iterator is left as it is (IOKit's does nothing either)."""
    iterator.reset()


def IOIteratorIsValid(iterator: io_iterator_t) -> bool:
    """False once the iterator is released or its kernel gone. A lookup's iterator holds a
    set of its own, which nothing changes, so it never goes invalid otherwise (IOKit's is
    an ``OSCollectionIterator`` over such a set); nor does a notification's."""
    port = iterator.main_port
    return bool(iterator) and not iterator.released and port is not None \
        and port.closed_reason is None


def IOObjectRelease(obj: io_object_t) -> int:
    """Drop one reference to ``obj``; an iterator releases the objects it still holds."""
    if not obj:
        return IOReturn.SUCCESS
    port = _owner(obj)
    if isinstance(obj, io_iterator_t):  # with the objects it took and did not hand out
        handles = [*(int(o) for o in obj.items), int(obj)]
        obj.items.clear()
        obj.more, obj.released = False, True
        if port.closed_reason is None:  # as mach_port_deallocate: nobody waits for it
            port.release_later(handles)
        return IOReturn.SUCCESS
    if port.closed_reason is None:
        port.call("release", objects=[int(obj)])
    return IOReturn.SUCCESS


def IOObjectRetain(obj: io_object_t) -> int:
    _owner(obj).call("retain", object=int(obj))
    return IOReturn.SUCCESS


def IOObjectGetClass(obj: io_object_t) -> str:
    """The object's class name (``IOObjectGetClass`` fills an ``io_name_t``)."""
    return str(_owner(obj).call("class", object=int(obj))["class"])


def IOObjectConformsTo(obj: io_object_t, className: str) -> bool:
    return bool(_owner(obj).call("conforms", object=int(obj), **{"class": className})["conforms"])


def IOObjectIsEqualTo(obj: io_object_t, anObject: io_object_t) -> bool:
    """One object, one handle per process: equal handles of one connection."""
    return int(obj) == int(anObject) and obj.main_port is anObject.main_port


# -- registry entries -----------------------------------------------------------------------
def IORegistryEntryGetName(entry: io_registry_entry_t) -> str:
    return str(_owner(entry).call("name", object=int(entry), plane=None)["name"])


def IORegistryEntryGetNameInPlane(entry: io_registry_entry_t, plane: str) -> str:
    return str(_owner(entry).call("name", object=int(entry), plane=plane)["name"])


def IORegistryEntryGetRegistryEntryID(entry: io_registry_entry_t) -> int:
    return int(_owner(entry).call("entry_id", object=int(entry))["entry_id"])


def IORegistryEntryGetPath(entry: io_registry_entry_t, plane: str) -> str:
    return str(_owner(entry).call("path", object=int(entry), plane=plane)["path"])


def IORegistryEntryCreateCFProperties(entry: io_registry_entry_t,
                                      allocator: object = None,
                                      options: int = 0) -> dict[str, Any]:
    """A copy of the entry's whole property table."""
    return dict(_owner(entry).call("properties", object=int(entry))["properties"])


def IORegistryEntryCreateCFProperty(entry: io_registry_entry_t, key: str,
                                    allocator: object = None, options: int = 0) -> Any:
    """One property's value, or None when the entry has no ``key``."""
    return _owner(entry).call("property", object=int(entry), key=key).get("value")


def IORegistryEntryGetParentEntry(entry: io_registry_entry_t,
                                  plane: str) -> io_registry_entry_t:
    """The first parent in ``plane``; ``kIOReturnNoDevice`` when there is none."""
    port = _owner(entry)
    return io_object_t(port.call("parent", object=int(entry), plane=plane)["object"], port)


def IORegistryEntryGetChildIterator(entry: io_registry_entry_t,
                                    plane: str) -> io_iterator_t:
    """The children in ``plane``, in attach order: an iterator over the kernel's copy of
    them, taken a batch at a time as for ``IOServiceGetMatchingServices``."""
    port = _owner(entry)
    return _iterator(port, port.call("children", object=int(entry), plane=plane))


# -- notification ports ---------------------------------------------------------------------
def IONotificationPortCreate(mainPort: MainPortArg) -> IONotificationPort:
    port = _port(mainPort)
    return IONotificationPort(port, int(port.call("port_create")["port"]))


def IONotificationPortDestroy(notify: IONotificationPort) -> None:
    """Remove the port and every notification installed on it."""
    port = notify.main_port
    if port.closed_reason is None:
        port.call("port_destroy", port=notify.handle)
    port.forget_queue(notify.handle)


def IONotificationPortGetMachPort(notify: IONotificationPort) -> int:
    return notify.handle


def IONotificationPortDispatch(notify: IONotificationPort,
                               timeout: float | None = 0.0) -> int:
    """This module's run loop turn (no CFRunLoop here): wait up to ``timeout`` seconds for
    messages on ``notify`` (None: until one comes), call each one's callback, return how
    many were delivered."""
    return notify.dispatch(timeout)


def IOServiceAddMatchingNotification(notifyPort: IONotificationPort,
                                     notificationType: str,
                                     matching: Mapping[str, Any],
                                     callback: MatchingCallback,
                                     refCon: Any = None) -> io_iterator_t:
    """Call ``callback(refCon, iterator)`` when services matching ``matching`` are published,
    matched (``kIOFirstMatchNotification``, ...) or terminated (``kIOTerminatedNotification``).

    The iterator returned already holds the services that qualify now (none for terminated),
    taken from the kernel a batch at a time however many there are; iterate it to the end to
    arm the notification, as in C.
    """
    port = notifyPort.main_port
    reply = port.call("add_matching", port=notifyPort.handle, type=notificationType,
                      matching=dict(matching))
    iterator = io_iterator_t.kernel(port, int(reply["notification"]), reply, rewinds=False)
    notifyPort.add_matching(iterator, callback, refCon)
    return iterator


def IOServiceAddInterestNotification(notifyPort: IONotificationPort,
                                     service: io_service_t, interestType: str,
                                     callback: InterestCallback,
                                     refCon: Any = None) -> io_object_t:
    """Call ``callback(refCon, service, messageType, messageArgument)`` for the messages
    ``service`` sends its interested clients (``kIOMessageServiceIsTerminated``, ...)."""
    port = notifyPort.main_port
    reply = port.call("add_interest", port=notifyPort.handle, service=int(service),
                      type=interestType)
    handle = int(reply["notification"])
    notifyPort.add_interest(handle, callback, refCon, service)
    return io_object_t(handle, port)
