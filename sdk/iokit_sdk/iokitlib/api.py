"""IOKitLib's functions, with its names and argument order (``IOKitLib.h``, ``IOKitLib.c``).

What C returns through out-parameters is the return value here, and a failing ``IOReturn``
raises :class:`~iokit_sdk.returns.IOReturnError` carrying the code and its ``kIOReturn...``
name. Capacities stay arguments where C has them in/out (``outputCnt``, ``outputStructCnt``):
the kernel checks them against the method's dispatch entry, as IOKit does. ``mainPort`` is
``kIOMainPortDefault`` (0), the process's connection to ``$IOKIT_KERNEL`` (else the per-user
socket), or a :class:`MainPort` of the program's own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from iokit_sdk.iokitlib.notify import (
    InterestCallback,
    IONotificationPort,
    MatchingCallback,
)
from iokit_sdk.iokitlib.objects import (
    IO_OBJECT_NULL,
    io_connect_t,
    io_iterator_t,
    io_object_t,
    io_registry_entry_t,
    io_service_t,
    task_t,
)
from iokit_sdk.iokitlib.port import MainPort
from iokit_sdk.returns import IOReturn, IOReturnError
from iokit_sdk.userclient import MAX_SCALARS, kIOConnectMethodVarOutputSize, kOSAsyncRef64Count

__all__ = [
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
    "IOServiceClose",
    "IOServiceGetMatchingService",
    "IOServiceGetMatchingServices",
    "IOServiceMatching",
    "IOServiceNameMatching",
    "IOServiceOpen",
    "kIOAsyncCalloutFuncIndex",
    "kIOAsyncCalloutRefconIndex",
    "kIOAsyncReservedIndex",
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
kIOAsyncReservedIndex = 0
kIOAsyncCalloutFuncIndex = 1
kIOAsyncCalloutRefconIndex = 2
#: The largest structure input sent; larger ones fail with ``kIOReturnMessageTooLarge``.
MAX_STRUCT_INPUT = 2 << 20
_U64 = (1 << 64) - 1

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
    """An iterator over every matched service matching ``matching``."""
    port = _port(mainPort)
    reply = port.call("get_matching", matching=dict(matching), single=False)
    return io_iterator_t.local(port, [io_object_t(h, port) for h in reply.get("objects", ())])


# -- objects and iterators ------------------------------------------------------------------
def IOIteratorNext(iterator: io_iterator_t) -> io_object_t:
    """The next object (which the caller releases), or ``IO_OBJECT_NULL`` at the end."""
    return iterator.next_object()


def IOIteratorReset(iterator: io_iterator_t) -> None:
    iterator.position = 0


def IOIteratorIsValid(iterator: io_iterator_t) -> bool:
    return True


def IOObjectRelease(obj: io_object_t) -> int:
    """Drop one reference to ``obj``; an iterator releases the objects it still holds."""
    if not obj:
        return IOReturn.SUCCESS
    port = _owner(obj)
    if isinstance(obj, io_iterator_t):
        handles = [int(o) for o in obj.unread()]
        if obj.kernel_handle is not None:
            handles.append(obj.kernel_handle)
        obj.items, obj.position = [], 0
        if handles and port.closed_reason is None:
            port.call("release", objects=handles)
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
    port = _owner(entry)
    reply = port.call("children", object=int(entry), plane=plane)
    return io_iterator_t.local(port, [io_object_t(h, port) for h in reply.get("objects", ())])


# -- user clients ---------------------------------------------------------------------------
def IOServiceOpen(service: io_service_t, owningTask: task_t | int,
                  type: int | None = None) -> io_connect_t:
    """Open a connection to ``service``'s user client of ``type``.

    ``IOServiceOpen(service, mach_task_self(), type)`` as in C; ``IOServiceOpen(service,
    type)`` is accepted too. An ``owningTask`` that is not this process is
    ``kIOReturnBadArgument``, as the kernel's check.
    """
    if type is None:
        owningTask, type = mach_task_self(), int(owningTask)
    if not isinstance(owningTask, int) or int(owningTask) != os.getpid():
        raise IOReturnError(IOReturn.BAD_ARGUMENT, "owningTask is not the calling task")
    port = _owner(service)
    reply = port.call("open", service=int(service), type=_u32(type, "type"))
    return io_connect_t(reply["connect"], port)


def IOServiceClose(connect: io_connect_t) -> int:
    """Close the connection: the kernel calls the user client's ``client_close`` once."""
    _owner(connect).call("close", connect=int(connect))
    return IOReturn.SUCCESS


def IOConnectCallMethod(connection: io_connect_t, selector: int,
                        input: Sequence[int] = (), inputStruct: bytes = b"",
                        outputCnt: int = 0,
                        outputStructCnt: int = 0) -> tuple[tuple[int, ...], bytes]:
    """Call method ``selector``: returns the output scalars and the output structure.

    :param outputCnt: how many scalars the caller takes (checked against the method's
        dispatch entry: a mismatch is ``kIOReturnBadArgument``).
    :param outputStructCnt: the output structure's capacity in bytes, or
        ``kIOConnectMethodVarOutputSize`` for a variable-size output.
    """
    return _call(connection, selector, input, inputStruct, outputCnt, outputStructCnt, None)


def IOConnectCallScalarMethod(connection: io_connect_t, selector: int,
                              input: Sequence[int], outputCnt: int) -> tuple[int, ...]:
    return _call(connection, selector, input, b"", outputCnt, 0, None)[0]


def IOConnectCallStructMethod(connection: io_connect_t, selector: int,
                              inputStruct: bytes, outputStructCnt: int) -> bytes:
    return _call(connection, selector, (), inputStruct, 0, outputStructCnt, None)[1]


def IOConnectCallAsyncMethod(connection: io_connect_t, selector: int,
                             wakePort: IONotificationPort | int,
                             reference: Sequence[Any],
                             input: Sequence[int] = (), inputStruct: bytes = b"",
                             outputCnt: int = 0,
                             outputStructCnt: int = 0) -> tuple[tuple[int, ...], bytes]:
    """:func:`IOConnectCallMethod`, completed later on ``wakePort``.

    ``reference`` holds up to ``kOSAsyncRef64Count`` words; put the callback
    (``callback(refcon, result, args)``) at ``kIOAsyncCalloutFuncIndex`` and its refcon at
    ``kIOAsyncCalloutRefconIndex``, as in C; the driver's ``send_async_result`` makes
    ``IONotificationPortDispatch`` call it. An empty reference stands for one zero word.
    """
    port = _notification_port(connection, wakePort)
    words = _reference_words(port, reference)
    return _call(connection, selector, input, inputStruct, outputCnt, outputStructCnt,
                 (port.handle, words))


def IOConnectCallAsyncScalarMethod(connection: io_connect_t, selector: int,
                                   wakePort: IONotificationPort | int,
                                   reference: Sequence[Any], input: Sequence[int],
                                   outputCnt: int) -> tuple[int, ...]:
    return IOConnectCallAsyncMethod(connection, selector, wakePort, reference, input, b"",
                                    outputCnt, 0)[0]


def IOConnectCallAsyncStructMethod(connection: io_connect_t, selector: int,
                                   wakePort: IONotificationPort | int,
                                   reference: Sequence[Any], inputStruct: bytes,
                                   outputStructCnt: int) -> bytes:
    return IOConnectCallAsyncMethod(connection, selector, wakePort, reference, (), inputStruct,
                                    0, outputStructCnt)[1]


def _call(connection: io_connect_t, selector: int, scalars: Sequence[int], struct: bytes,
          scalar_out: int, struct_out: int,
          async_: tuple[int, list[int]] | None) -> tuple[tuple[int, ...], bytes]:
    port = getattr(connection, "main_port", None)
    if type(port) is not MainPort or not connection:  # _owner's checks, inline
        port = _owner(connection)
    # Plain ints take the short way; anything else is checked. (A loop, not a comprehension:
    # on a busy machine each Python call costs more than the work it does here.)
    values: list[int] = []
    for value in scalars:
        values.append(value & _U64 if type(value) is int else _u64(value, "input"))
    if len(values) > MAX_SCALARS or not 0 <= scalar_out <= MAX_SCALARS:
        raise IOReturnError(IOReturn.BAD_ARGUMENT, f"at most {MAX_SCALARS} scalars in or out")
    data = struct if type(struct) is bytes else bytes(struct)
    if len(data) > MAX_STRUCT_INPUT:
        raise IOReturnError(IOReturn.MESSAGE_TOO_LARGE,
                            f"a structure input of {len(data)} bytes is over {MAX_STRUCT_INPUT}")
    if struct_out != kIOConnectMethodVarOutputSize and not 0 <= struct_out <= 0xFFFFFFFF:
        raise IOReturnError(IOReturn.BAD_ARGUMENT, f"outputStructCnt {struct_out} is not a size")
    fields: dict[str, Any] = {
        "connect": int(connection),
        "selector": selector & 0xFFFFFFFF if type(selector) is int else _u32(selector,
                                                                             "selector"),
        "scalars": values, "struct": data, "scalar_out": scalar_out, "struct_out": struct_out}
    if async_ is not None:
        fields["port"], fields["reference"] = async_
    reply = port.request_with("call", fields)
    code = reply.get("ret", IOReturn.SUCCESS)
    if code != IOReturn.SUCCESS:
        message = reply.get("message")
        raise IOReturnError(code, message if isinstance(message, str) else None)
    return tuple(reply.get("scalars", ())), bytes(reply.get("struct", b""))


def _u64(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} scalars are integers, not {type(value).__name__}")
    return value & _U64  # a uint64_t in C: -1 is 0xFFFFFFFFFFFFFFFF


def _u32(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} is an integer, not {type(value).__name__}")
    return value & 0xFFFFFFFF


def _reference_words(port: IONotificationPort, reference: Sequence[Any]) -> list[int]:
    items = list(reference) or [0]
    if len(items) > kOSAsyncRef64Count:
        raise IOReturnError(IOReturn.BAD_ARGUMENT,
                            f"an async reference has at most {kOSAsyncRef64Count} words")
    callout = items[kIOAsyncCalloutFuncIndex] if len(items) > kIOAsyncCalloutFuncIndex else None
    if callable(callout):
        refcon = (items[kIOAsyncCalloutRefconIndex]
                  if len(items) > kIOAsyncCalloutRefconIndex else None)
        token = port.async_token(callout, refcon)
        items[kIOAsyncCalloutFuncIndex] = token
        if len(items) > kIOAsyncCalloutRefconIndex:
            items[kIOAsyncCalloutRefconIndex] = token
    items[kIOAsyncReservedIndex] = port.handle  # the wake port, as IOKitLib fills it in
    return [_u64(w, "reference") if isinstance(w, int) else 0 for w in items]


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


def _notification_port(connection: io_object_t,
                       wake: IONotificationPort | int) -> IONotificationPort:
    if isinstance(wake, IONotificationPort):
        return wake
    raise IOReturnError(IOReturn.BAD_ARGUMENT, f"not a notification port: {wake!r}")


def IOServiceAddMatchingNotification(notifyPort: IONotificationPort,
                                     notificationType: str,
                                     matching: Mapping[str, Any],
                                     callback: MatchingCallback,
                                     refCon: Any = None) -> io_iterator_t:
    """Call ``callback(refCon, iterator)`` when services matching ``matching`` are published,
    matched (``kIOFirstMatchNotification``, ...) or terminated (``kIOTerminatedNotification``).

    The iterator returned already holds the services that qualify now (none for terminated);
    iterate it to the end to arm the notification, as in C.
    """
    port = notifyPort.main_port
    reply = port.call("add_matching", port=notifyPort.handle, type=notificationType,
                      matching=dict(matching))
    iterator = io_iterator_t.notification(port, int(reply["notification"]))
    iterator.items.extend(io_object_t(h, port) for h in reply.get("objects", ()))
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
