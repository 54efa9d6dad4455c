"""Notification requests: ports, matching and interest notifications
(``is_io_service_add_notification``, ``is_io_service_add_interest_notification``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iokit_sdk.returns import IOReturn
from iokit_sdk.service import IOService

from iokit_host.errors import quoted
from iokit_host.server.args import Args, BadRequest
from iokit_host.server.context import KernelContext
from iokit_host.server.iterators import ServiceIterator, batch_size, first_batch
from iokit_host.server.notifications import INTEREST_TYPES, MATCHING_TYPES, NotificationPort
from iokit_host.server.registry_ops import add_handles
from iokit_host.server.session import Session

__all__ = ["OPS"]

Op = Callable[[KernelContext, Session, Args], dict[str, Any]]


def port_create(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    port = NotificationPort(session)
    (port.handle,) = add_handles(session, [port])
    return {"port": port.handle}


def port_destroy(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    port = args.handle(session, "port", NotificationPort)
    for record in list(port.records):
        session.handles.forget(record.handle)
    session.handles.forget(port.handle)
    ctx.notifications.remove_port(port)
    return {}


def add_matching(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """Install a matching notification: ``notification`` (its handle, which is also the
    iterator of the services there already), their first batch (``objects``) and
    ``more``."""
    port = args.handle(session, "port", NotificationPort)
    kind = MATCHING_TYPES.get(args.text("type") or "")
    if kind is None:
        raise BadRequest(f"not a notification type: {quoted(args.message.get('type'))}; one of "
                         f"{', '.join(MATCHING_TYPES)}", IOReturn.UNSUPPORTED)
    matching = args.matching()
    count = batch_size(args)  # checked before anything is installed: a refusal leaves nothing
    try:
        record, existing = ctx.notifications.add_matching(port, kind, matching)
    except Exception as error:  # an odd dictionary must not stop the kernel
        raise BadRequest(f"the matching dictionary cannot be used: {error}") from error
    try:
        # The services there already wait in the notification's iterator, handed over as
        # the program iterates (a registry may hold more than its table may).
        record.existing = ServiceIterator.holding(session, existing, rewinds=False)
        (record.handle,) = add_handles(session, [record])
    except BadRequest:
        ctx.notifications.remove(record)
        raise
    return {"notification": record.handle,
            **first_batch(session, record.existing, count)}


def add_interest(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    port = args.handle(session, "port", NotificationPort)
    service = args.handle(session, "service", IOService)
    interest = args.text("type")
    if interest not in INTEREST_TYPES:
        raise BadRequest(f"not an interest type: {quoted(interest)}; one of "
                         f"{', '.join(sorted(INTEREST_TYPES))}")
    record = ctx.notifications.add_interest(port, service, interest, int(args.message["service"]))
    try:
        (record.handle,) = add_handles(session, [record])
    except BadRequest:
        ctx.notifications.remove(record)
        raise
    return {"notification": record.handle}


OPS: dict[str, Op] = {"port_create": port_create, "port_destroy": port_destroy,
                      "add_matching": add_matching, "add_interest": add_interest}
