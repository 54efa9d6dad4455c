"""User-client requests: ``open``, ``close`` and ``call`` (``is_io_service_open_extended``,
``is_io_service_close``, ``is_io_connect_method``), for the session's task.

The task is the kernel's knowledge of the caller (``SO_PEERCRED`` and the entitlement policy);
nothing in the request can change it. An async call's reference routes the driver's
``send_async_result`` back to the caller's notification port.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from iokit_sdk.iokitlib.wire import MAX_REQUEST_FRAME
from iokit_sdk.returns import MACH_SEND_INVALID_DEST, IOReturn
from iokit_sdk.service import IOService
from iokit_sdk.userclient import (
    MAX_SCALARS,
    OSAsyncReference64,
    kIOConnectMethodVarOutputSize,
    kOSAsyncRef64Count,
)

from iokit_host.server.args import Args, BadRequest
from iokit_host.server.context import KernelContext
from iokit_host.server.notifications import NotificationPort
from iokit_host.server.registry_ops import add_handles
from iokit_host.server.session import Session
from iokit_host.server.shared_memory import memory_fd
from iokit_host.userclient.calls import CallRequest, run_method
from iokit_host.userclient.connections import Connection

__all__ = ["OPS", "plain_call", "plain_fields", "plain_run"]

Op = Callable[[KernelContext, Session, Args], dict[str, Any]]
_U32 = 0xFFFFFFFF
_U64 = (1 << 64) - 1


def open_(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    service = args.handle(session, "service", IOService)
    opened = ctx.user_clients.open(service, session.task, args.number("type", high=_U32))
    if isinstance(opened, int):
        return {"ret": opened}
    try:
        (handle,) = add_handles(session, [opened])
    except BadRequest:
        ctx.user_clients.close(opened)
        raise
    return {"connect": handle}


def close(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    connection = args.handle(session, "connect", Connection)
    session.handles.forget(int(args.message["connect"]))
    ctx.user_clients.close(connection)
    return {}


def call(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """``is_io_connect_method``. The common call (synchronous, every field present and of its
    exact type, in range) is checked in one pass and run without building a request
    (:func:`plain_call`); anything else goes to :func:`_checked_call`, which names what is
    wrong."""
    result = plain_call(ctx, session, args.message)
    if result is None:
        return _checked_call(ctx, session, args)
    ret, outputs, data = result
    if ret != IOReturn.SUCCESS:
        return {"ret": ret}
    return {"ret": 0, "scalars": outputs, "struct": data}


def plain_call(ctx: KernelContext, session: Session, message: Mapping[str, Any]
               ) -> tuple[int, list[int], bytes] | None:
    """Run a common call: (IOReturn, output scalars, output structure); None, and nothing
    done, when ``message`` is anything else (async, a field missing, mistyped or out of
    range: :func:`_checked_call` says which)."""
    fields = plain_fields(message)
    return None if fields is None else plain_run(ctx, session, *fields)


def plain_fields(message: Mapping[str, Any]
                 ) -> tuple[int, int, tuple[int, ...], bytes, int, int] | None:
    """A common call's fields, as :func:`plain_run` takes them: the connection's handle, the
    selector, the scalars, the structure and both capacities; None when ``message`` is
    anything else (async, a field missing, mistyped or out of range)."""
    handle, selector = message.get("connect"), message.get("selector")
    scalars, structure = message.get("scalars", ()), message.get("struct", b"")
    scalar_out, struct_out = message.get("scalar_out"), message.get("struct_out")
    if not (type(handle) is int and "port" not in message
            and type(selector) is int and 0 <= selector <= _U32
            and type(scalars) is list and len(scalars) <= MAX_SCALARS
            and type(structure) is bytes and len(structure) <= MAX_REQUEST_FRAME
            and type(scalar_out) is int and type(struct_out) is int):
        return None
    for value in scalars:
        if type(value) is not int or not 0 <= value <= _U64:
            return None
    return handle, selector, tuple(scalars), structure, scalar_out, struct_out


def plain_run(ctx: KernelContext, session: Session, handle: int, selector: int,
              scalars: tuple[int, ...], structure: bytes, scalar_out: int, struct_out: int
              ) -> tuple[int, list[int], bytes] | None:
    """:func:`plain_call` of fields of their types, the selector and each scalar in range
    (a call frame's are by its layout): None, and nothing done, when the handle, a count or
    the capacity is wrong."""
    connection = session.handles.objects.get(handle)  # HandleTable.get's checks, written out
    if not (type(connection) is Connection and len(scalars) <= MAX_SCALARS
            and 0 <= scalar_out <= MAX_SCALARS
            and (0 <= struct_out <= _U32 or struct_out == kIOConnectMethodVarOutputSize)):
        return None
    if connection.closed:  # its client is terminated: see userclient.calls.run_method
        return IOReturn.BAD_ARGUMENT, [], b""
    return run_method(ctx.user_clients.kernel, connection.client, connection.task, selector,
                      scalars, structure, scalar_out, struct_out)


def _checked_call(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    connection = args.handle(session, "connect", Connection)
    struct_out = args.number("struct_out", low=kIOConnectMethodVarOutputSize, high=_U32)
    if struct_out < 0 and struct_out != kIOConnectMethodVarOutputSize:
        raise BadRequest(f"'struct_out' {struct_out} is neither a size nor "
                         "kIOConnectMethodVarOutputSize")
    request = CallRequest(
        args.number("selector", high=_U32), args.numbers("scalars", limit=MAX_SCALARS),
        args.data("struct", limit=MAX_REQUEST_FRAME), args.number("scalar_out", high=MAX_SCALARS),
        struct_out, _async_reference(ctx, session, args))
    result = ctx.user_clients.call(connection, request)
    if result.ret != IOReturn.SUCCESS:
        return {"ret": result.ret}
    return {"scalars": list(result.scalars), "struct": result.structure}


def _async_reference(ctx: KernelContext, session: Session, args: Args
                     ) -> OSAsyncReference64 | None:
    """The reference a driver completes the call with (``sendAsyncResult64``), from any
    thread: a driver's own thread's completion goes through the loop (:mod:`.loop_mail`),
    and says at once what the Mach send would (the port's state now)."""
    if "port" not in args.message:
        return None
    port = args.handle(session, "port", NotificationPort)
    words = args.numbers("reference", limit=kOSAsyncRef64Count)
    if not words:
        raise BadRequest("an async reference has at least one word")

    notifications = ctx.notifications

    def deliver(result: int, values: tuple[int, ...]) -> int:
        if port.destroyed or port.session.gone or notifications.mail.closed:
            return MACH_SEND_INVALID_DEST  # the Mach send sendAsyncResult64 makes, failed
        sent = notifications.send(port, {
            "kind": "async", "reference": list(words), "result": result & _U32,
            "args": [v & _U64 for v in values]})
        return IOReturn.SUCCESS if sent else IOReturn.NO_RESOURCES

    return OSAsyncReference64(words, deliver)


def map_memory(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """``IOConnectMapMemory``: the client's memory of ``type``, passed to the program as a
    descriptor with the reply (``SCM_RIGHTS``) and its size; the program maps it whatever
    its uid, and never learns where the kernel keeps it."""
    connection = args.handle(session, "connect", Connection)
    found = ctx.user_clients.memory(connection, args.number("type", high=_U32))
    if isinstance(found, int):
        return {"ret": found}
    granted = ctx.user_clients.grant(connection, found, memory_fd)
    if granted == IOReturn.NO_RESOURCES:
        return {"ret": IOReturn.NO_RESOURCES,
                "message": "the kernel could not make a descriptor of the memory"}
    if isinstance(granted, int):
        return {"ret": granted}
    session.attach_fd(granted.fd)
    return {"size": granted.size}


OPS: dict[str, Op] = {"open": open_, "close": close, "call": call, "map_memory": map_memory}
