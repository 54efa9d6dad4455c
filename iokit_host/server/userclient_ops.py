"""User-client requests: ``open``, ``close`` and ``call`` (``is_io_service_open_extended``,
``is_io_service_close``, ``is_io_connect_method``), for the session's task.

The task is the kernel's knowledge of the caller (``SO_PEERCRED`` and the entitlement policy);
nothing in the request can change it. An async call's reference routes the driver's
``send_async_result`` back to the caller's notification port.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iokit_sdk.iokitlib.wire import MAX_REQUEST_FRAME
from iokit_sdk.returns import IOReturn
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
from iokit_host.userclient.calls import CallRequest
from iokit_host.userclient.connections import Connection

__all__ = ["OPS"]

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
    connection = args.handle(session, "connect", Connection)
    struct_out = args.number("struct_out", low=kIOConnectMethodVarOutputSize, high=_U32)
    if struct_out < 0 and struct_out != kIOConnectMethodVarOutputSize:
        raise BadRequest(f"'struct_out' {struct_out} is neither a size nor "
                         "kIOConnectMethodVarOutputSize")
    request = CallRequest(
        args.number("selector", high=_U32), args.numbers("scalars", limit=MAX_SCALARS),
        args.data("struct", limit=MAX_REQUEST_FRAME), args.number("scalar_out", high=MAX_SCALARS),
        struct_out, _async_reference(session, args))
    result = ctx.user_clients.call(connection, request)
    if result.ret != IOReturn.SUCCESS:
        return {"ret": result.ret}
    return {"scalars": list(result.scalars), "struct": result.structure}


def _async_reference(session: Session, args: Args) -> OSAsyncReference64 | None:
    if "port" not in args.message:
        return None
    port = args.handle(session, "port", NotificationPort)
    words = args.numbers("reference", limit=kOSAsyncRef64Count)
    if not words:
        raise BadRequest("an async reference has at least one word")

    def deliver(result: int, values: tuple[int, ...]) -> int:
        if port.destroyed or port.session.gone:
            return IOReturn.NOT_ATTACHED
        sent = port.send({"kind": "async", "reference": list(words), "result": result & _U32,
                          "args": [v & _U64 for v in values]})
        return IOReturn.SUCCESS if sent else IOReturn.NO_RESOURCES

    return OSAsyncReference64(words, deliver)


def map_memory(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """``IOConnectMapMemory``: where the client's memory of ``type`` is, for the program to
    map (a file in the kernel's private runtime directory)."""
    connection = args.handle(session, "connect", Connection)
    found = ctx.user_clients.memory(connection, args.number("type", high=_U32))
    if isinstance(found, int):
        return {"ret": found}
    return {"path": found.path, "size": found.length}


OPS: dict[str, Op] = {"open": open_, "close": close, "call": call, "map_memory": map_memory}
