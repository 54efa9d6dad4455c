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
from iokit_sdk.iokitlib.notify import IONotificationPort
from iokit_sdk.iokitlib.objects import io_connect_t, io_object_t, io_service_t, task_t
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
    "IOServiceClose",
    "IOServiceOpen",
    "kIOAsyncCalloutFuncIndex",
    "kIOAsyncCalloutRefconIndex",
    "kIOAsyncReservedIndex",
]

kIOAsyncReservedIndex = 0
kIOAsyncCalloutFuncIndex = 1
kIOAsyncCalloutRefconIndex = 2
#: The largest structure input sent; larger ones fail with ``kIOReturnMessageTooLarge``.
MAX_STRUCT_INPUT = 2 << 20
_U64 = (1 << 64) - 1
_SUCCESS = int(IOReturn.SUCCESS)  # a plain int: an enum member's lookup costs more


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
    # Plain ints take the short way; anything else is checked. (Written out: between two
    # processes each Python step costs several times the work it does here.)
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
    code = reply.get("ret", _SUCCESS)
    if code != _SUCCESS:
        if type(code) is not int:
            raise port.garbled("call", "ret", code)
        message = reply.get("message")
        raise IOReturnError(code, message if isinstance(message, str) else None)
    scalars, data = reply.get("scalars", ()), reply.get("struct", b"")
    if type(data) is not bytes:
        raise port.garbled("call", "struct", data)
    if type(scalars) is not list and type(scalars) is not tuple:
        raise port.garbled("call", "scalars", scalars)
    return tuple(scalars), data


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


def _notification_port(connection: io_object_t,
                       wake: IONotificationPort | int) -> IONotificationPort:
    if isinstance(wake, IONotificationPort):
        return wake
    raise IOReturnError(IOReturn.BAD_ARGUMENT, f"not a notification port: {wake!r}")
