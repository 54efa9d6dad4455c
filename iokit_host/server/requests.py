"""Handing requests to the kernel, one at a time (the MIG server routines' dispatch).

Every request of every session comes through :func:`handle`, on the one work loop, in the order
the front end takes them: the handshake first (``hello``: a client of another protocol version
is told so and disconnected, and the kernel logs it), then one handler per ``op``. Whatever a
request holds, the kernel answers with an IOReturn: a malformed field is
``kIOReturnBadArgument``, an unknown op ``kIOReturnUnsupported``, and a failure of the kernel's
own code ``kIOReturnInternalError`` with a diagnostic on the kernel's log; the kernel and the
other sessions go on. Matching jobs a request queued run before the next request. A request
may carry ``release_first``, handles the kernel releases before it serves the request: IOKitLib
releases an iterator so, with the request that follows, as C's ``mach_port_deallocate``
releases a right without a message to IOKit (a message of its own cost a lookup of a few
services some 10% more).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from iokit_sdk.iokitlib.wire import PROTOCOL, PROTOCOL_VERSION, fit_integers
from iokit_sdk.returns import IOReturn
from iokit_sdk.service import IOService

from iokit_host.errors import Diagnostic, Severity, quoted
from iokit_host.server import (
    dext_ops,
    iterators,
    notify_ops,
    power_ops,
    registry_ops,
    tool_ops,
    userclient_ops,
)
from iokit_host.server.args import Args, BadRequest
from iokit_host.server.context import KernelContext
from iokit_host.server.repair import repaired, where
from iokit_host.server.session import Session, close_fds
from iokit_host.settings import env_flag
from iokit_host.userclient.connections import Connection

__all__ = ["OPS", "answer", "driver_of", "failed", "handle"]

Op = Callable[[KernelContext, Session, Args], dict[str, Any]]
OPS: dict[str, Op] = {**registry_ops.OPS, **userclient_ops.OPS, **notify_ops.OPS,
                      **tool_ops.OPS, **power_ops.OPS, **dext_ops.OPS, **iterators.OPS}


def handle(ctx: KernelContext, session: Session, message: dict[str, Any]) -> None:
    """Serve one request of ``session`` and queue its reply."""
    if not session.ready:
        _hello(ctx, session, message)
        return
    request_id, op = message.get("id"), message.get("op")
    if isinstance(request_id, bool) or not isinstance(request_id, int) or not isinstance(op, str):
        session.fatal("request-malformed", "a request is a map with an integer 'id' and a "
                      "string 'op'")
        return
    function = OPS.get(op, _unknown)
    answer(ctx, session, op, request_id, _run(ctx, session, op, function, message))


def answer(ctx: KernelContext, session: Session, op: str, request_id: int,
           fields: dict[str, Any]) -> None:
    """Queue ``fields`` as the reply to request ``request_id`` (an ``op``), with the
    descriptors the request attached; a reply that cannot be encoded becomes
    ``kIOReturnInternalError`` and a diagnostic."""
    fds = session.detach_fds()  # descriptors the reply passes (shared memory): rare
    if fds and fields.get("ret") != IOReturn.SUCCESS:
        close_fds(fds)
        fds = []
    try:
        try:
            session.reply(request_id, fields, fds)
        except OverflowError:  # a driver's property past 64 bits: sent as an OSNumber holds it
            session.reply(request_id, fit_integers(fields), fds)
    except (TypeError, ValueError, OverflowError) as error:
        if _send_repaired(ctx, session, op, request_id, fields, fds):
            return
        close_fds(fds)
        _report(ctx, session, op, error)
        session.reply(request_id, {"ret": IOReturn.INTERNAL_ERROR,
                                   "message": "the reply could not be encoded"})


def _send_repaired(ctx: KernelContext, session: Session, op: str, request_id: int,
                   fields: dict[str, Any], fds: list[int]) -> bool:
    """Send ``fields`` with what has no wire form replaced (:mod:`.repair`), and say where;
    False when even that does not encode (a bug of the kernel's own)."""
    fixed, replaced = repaired(fields)
    if not replaced:
        return False
    try:
        session.reply(request_id, fit_integers(fixed), fds)
    except (TypeError, ValueError, OverflowError):
        return False
    shown = ", ".join(where(fields, path) for path in replaced[:3])
    ctx.host.kernel.report(Diagnostic(
        "kernel-reply-repaired", f"{len(replaced)} value(s) could not travel and were "
        f"replaced by a note: {shown}" + (", ..." if len(replaced) > 3 else ""), key=op,
        severity=Severity.WARNING,
        hint="a driver changed a property value in place after setting it (or wrote its "
             "entry's table directly); set a new value with set_property instead"))
    return True


def _run(ctx: KernelContext, session: Session, op: str, function: Op,
         message: dict[str, Any]) -> dict[str, Any]:
    try:
        # Checked as a work-loop job is: the request may run a driver's code (an external
        # method, client_close), which may replace the standard streams as any driver code may.
        fields = ctx.driver_work.run_checked(
            partial(_serve, ctx, session, function, message),
            f"while serving a client's {op} request", driver_of(session, message))
    except BadRequest as error:
        return {"ret": error.code, "message": str(error)}
    except Exception as error:  # noqa: BLE001 - the kernel outlives a failed request
        return failed(ctx, session, op, error)
    fields.setdefault("ret", IOReturn.SUCCESS)
    return fields


def _serve(ctx: KernelContext, session: Session, function: Op,
           message: dict[str, Any]) -> dict[str, Any]:
    """Run one request's handler (after the releases it carries), then the work it
    queued."""
    args = Args(message)
    if "release_first" in message:
        registry_ops.release_all(ctx, session, args.numbers("release_first", limit=1 << 16))
    fields = function(ctx, session, args)
    kernel = ctx.host.kernel
    if kernel.pending_jobs():  # most requests queue nothing: skip arming the watchdog
        kernel.run_until_quiet()
    return fields


def _unknown(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """An op this kernel does not serve: ``kIOReturnUnsupported``, the request's
    ``release_first`` released all the same (they are the client's ``mach_port_deallocate``,
    not part of the request: kept, they would stay held until the connection ends)."""
    raise BadRequest(f"unknown op {quoted(args.message.get('op'))}", IOReturn.UNSUPPORTED)


def driver_of(session: Session, message: Mapping[str, Any]) -> IOService | None:
    """The service whose driver code a request runs, for a diagnostic: the user client of
    its connection, or the service (or entry) it names; None when it names neither."""
    objects = session.handles.objects
    for key in ("connect", "service", "object"):
        handle = message.get(key)
        if type(handle) is int:
            found = objects.get(handle)
            if type(found) is Connection:
                return found.client
            if isinstance(found, IOService):
                return found
    return None


def failed(ctx: KernelContext, session: Session, op: str, error: Exception
           ) -> dict[str, Any]:
    """The reply to a request the kernel's own code failed (reported on the kernel's log)."""
    _report(ctx, session, op, error)
    return {"ret": IOReturn.INTERNAL_ERROR, "message": f"{type(error).__name__}: {error}"}


def _hello(ctx: KernelContext, session: Session, message: dict[str, Any]) -> None:
    if message.get("op") != "hello":
        session.fatal("hello-expected", "the first message on the kernel socket must be hello")
        return
    protocol, version = message.get("protocol"), message.get("version")
    if protocol != PROTOCOL or version != PROTOCOL_VERSION:
        text = (f"protocol version mismatch: this kernel speaks {PROTOCOL} version "
                f"{PROTOCOL_VERSION}, the client {quoted(protocol)} version {quoted(version)}")
        ctx.log.append(Diagnostic(
            "protocol-version-mismatch", f"refused {session!r}: {text}",
            severity=Severity.WARNING, hint="the client needs an iokit-sdk of this protocol"))
        session.fatal("protocol-version-mismatch",
                      f"{text}; use an iokit-sdk that matches the running iokit-host")
        return
    session.ready = True
    session.reply(message.get("id"), {"ret": IOReturn.SUCCESS, "protocol": PROTOCOL,
                                      "version": PROTOCOL_VERSION, "kernel_pid": os.getpid(),
                                      "client_pid": session.peer.pid})


def _report(ctx: KernelContext, session: Session, op: str, error: BaseException) -> None:
    if env_flag("IOKIT_DEBUG"):
        traceback.print_exception(error)
    ctx.host.kernel.report(Diagnostic(
        "kernel-request-failed", f"{op} from {session!r} failed: {type(error).__name__}: "
        f"{error}", key=op, severity=Severity.ERROR,
        hint="this is a bug in iokit-host; the client got kIOReturnInternalError and the "
             "kernel went on (IOKIT_DEBUG=1 prints the traceback)"))
