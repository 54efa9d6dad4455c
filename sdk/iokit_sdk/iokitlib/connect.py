"""IOKitLib's user-client calls: ``IOServiceOpen``, ``IOServiceClose`` and the
``IOConnectCall*Method`` family (``IOKitLib.h``; ``io_connect_method`` in ``IOUserClient.cpp``).

Arguments keep C's order and meaning: scalars are ``uint64_t`` (``-1`` is ``0xFFFF...``), the
capacities ``outputCnt`` and ``outputStructCnt`` are arguments the kernel checks against the
method's dispatch entry, as IOKit does; a failing ``IOReturn`` raises
:class:`~iokit_sdk.returns.IOReturnError`. An async call's reference names the notification
port its completion is posted to, and its callout and refcon.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from iokit_sdk.iokitlib.api import _owner, mach_task_self
from iokit_sdk.iokitlib.method_call import MAX_STRUCT_INPUT, u32, u64
from iokit_sdk.iokitlib.notify import IONotificationPort
from iokit_sdk.iokitlib.objects import io_connect_t, io_object_t, io_service_t, task_t
from iokit_sdk.iokitlib.port import MainPort
from iokit_sdk.returns import MIG_ARRAY_TOO_LARGE, IOReturn, IOReturnError
from iokit_sdk.userclient import kOSAsyncRef64Count

__all__ = [
    "MAX_STRUCT_INPUT",
    "IOConnectCallAsyncMethod",
    "IOConnectCallAsyncScalarMethod",
    "IOConnectCallAsyncStructMethod",
    "IOConnectCallMethod",
    "IOConnectCallScalarMethod",
    "IOConnectCallStructMethod",
    "IOServiceClose",
    "IOServiceOpen",
    "kIOAsyncCalloutFuncIndex",
    "kIOAsyncCalloutRefconIndex",
    "kIOAsyncReservedIndex",
]

kIOAsyncReservedIndex = 0
kIOAsyncCalloutFuncIndex = 1
kIOAsyncCalloutRefconIndex = 2


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
    reply = port.call("open", service=int(service), type=u32(type, "type"))
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
    return _port(connection).call_method(connection, selector, input, inputStruct, outputCnt,
                                         outputStructCnt)


def IOConnectCallScalarMethod(connection: io_connect_t, selector: int,
                              input: Sequence[int], outputCnt: int) -> tuple[int, ...]:
    try:  # _port, inline: a program calls this in a loop
        call = connection.main_port.call_method  # type: ignore[union-attr]  # None: below
    except AttributeError:  # not a connection of a port: _owner says so
        call = _owner(connection).call_method
    return call(connection, selector, input, b"", outputCnt, 0)[0]


def IOConnectCallStructMethod(connection: io_connect_t, selector: int,
                              inputStruct: bytes, outputStructCnt: int) -> bytes:
    return _port(connection).call_method(connection, selector, (), inputStruct, 0,
                                         outputStructCnt)[1]


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
    main_port = _port(connection)
    port = _notification_port(connection, wakePort)
    words = _reference_words(port, reference)
    return main_port.call_method(connection, selector, input, inputStruct, outputCnt,
                                 outputStructCnt, (port.handle, words))


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


def _port(connection: io_connect_t) -> MainPort:
    """The main port ``connection`` belongs to (``_owner``'s checks, its common case first)."""
    port = getattr(connection, "main_port", None)
    return port if type(port) is MainPort and connection else _owner(connection)


def _reference_words(port: IONotificationPort, reference: Sequence[Any]) -> list[int]:
    items = list(reference) or [0]
    if len(items) > kOSAsyncRef64Count:  # io_async_ref64_t: MIG's stub refuses more
        raise IOReturnError(MIG_ARRAY_TOO_LARGE,
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
    return [u64(w, "reference") if isinstance(w, int) else 0 for w in items]


def _notification_port(connection: io_object_t,
                       wake: IONotificationPort | int) -> IONotificationPort:
    if isinstance(wake, IONotificationPort):
        return wake
    raise IOReturnError(IOReturn.BAD_ARGUMENT, f"not a notification port: {wake!r}")
