"""Registry requests: lookups and properties (``is_io_service_get_matching_services``,
``is_io_registry_entry_get_properties``, ``is_io_object_get_class``, ...).

Each returns the fields of the reply; the objects it names travel as the session's handles
(one more reference each, dropped by ``release``, which is ``IOObjectRelease``). A lookup of
many services (``get_matching``, ``children``) answers with an iterator the kernel keeps
(:mod:`.iterators`) and its first batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.returns import IOReturn

from iokit_host.errors import quoted
from iokit_host.registry import get_path
from iokit_host.server.args import Args, BadRequest
from iokit_host.server.context import KernelContext
from iokit_host.server.iterators import ServiceIterator, batch_size, first_batch
from iokit_host.server.notifications import (
    InterestNotification,
    MatchingNotification,
    NotificationPort,
)
from iokit_host.server.power_ops import HeldAssertion, release_held
from iokit_host.server.session import Session
from iokit_host.userclient.connections import Connection

__all__ = ["OPS", "add_handles", "forget_object", "forget_session", "iterate", "release_all"]

Op = Callable[[KernelContext, Session, Args], dict[str, Any]]


def add_handles(session: Session, objects: Iterable[object]) -> list[int]:
    """A handle for each object, or ``kIOReturnNoResources`` (none taken) when the client
    holds too many."""
    handles: list[int] = []
    for obj in objects:
        handle = session.handles.add(obj)
        if handle is None:
            for taken in handles:
                session.handles.release(taken)
            raise BadRequest(session.handles.full(), IOReturn.NO_RESOURCES)
        handles.append(handle)
    return handles


def get_matching(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    matching = args.matching()
    try:
        found = ctx.host.kernel.copy_matching_services(matching)
    except Exception as error:  # an odd dictionary must not stop the kernel
        raise BadRequest(f"the matching dictionary cannot be used: {error}") from error
    if args.flag("single"):
        return {"objects": add_handles(session, found[:1])}
    return iterate(session, found, batch_size(args))


def iterate(session: Session, services: Sequence[IORegistryEntry], count: int) -> dict[str, Any]:
    """The reply of a lookup: ``iterator`` (a handle: the kernel keeps ``services``),
    ``objects`` (the first ``count`` of them) and ``more``."""
    iterator = ServiceIterator.holding(session, services)
    handle = session.handles.add(iterator)
    if handle is None:
        iterator.free()
        raise BadRequest(session.handles.full(), IOReturn.NO_RESOURCES)
    fields = first_batch(session, iterator, count)
    fields["iterator"] = handle
    return fields


def release(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    release_all(ctx, session, args.numbers("objects", limit=1 << 16))
    return {}


def release_all(ctx: KernelContext, session: Session, handles: Iterable[int]) -> None:
    """Drop one reference to each of ``handles`` (one the client does not hold: nothing)."""
    release = session.handles.release
    for handle in handles:
        obj = release(handle)
        if obj is not None:  # its last reference
            forget_object(ctx, session, obj)


def forget_object(ctx: KernelContext, session: Session, obj: object) -> None:
    """What dropping the last reference to ``obj`` does (no-senders for a connection:
    ``clientDied``; a notification or port is removed)."""
    if isinstance(obj, Connection):
        ctx.user_clients.died(obj)
    elif isinstance(obj, NotificationPort):
        ctx.notifications.remove_port(obj)
    elif isinstance(obj, (MatchingNotification, InterestNotification)):
        ctx.notifications.remove(obj)
    elif isinstance(obj, ServiceIterator):
        obj.free()
    elif isinstance(obj, HeldAssertion):  # powerd releases a dead process's assertions
        release_held(ctx, obj)


def forget_session(ctx: KernelContext, session: Session) -> None:
    """Drop every handle of ``session``, which is gone: its connections die first
    (``clientDied``; an async call they complete then is dropped), then the rest go, its
    iterators' lists among them."""
    handles = list(session.handles.pairs())
    for handle_, obj in sorted(handles, key=lambda item: not isinstance(item[1], Connection)):
        session.handles.forget(handle_)
        forget_object(ctx, session, obj)


def retain(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    if not session.handles.retain(args.number("object")):
        raise BadRequest("'object' is not a handle this client holds")
    return {}


def _entry(session: Session, args: Args) -> IORegistryEntry:
    return args.handle(session, "object", IORegistryEntry)


def _plane(ctx: KernelContext, args: Args, *, optional: bool = False) -> str | None:
    plane = args.text("plane", optional=optional)
    if plane is not None and not ctx.host.registry.has_plane(plane):
        raise BadRequest(f"no plane named {quoted(plane)}")
    return plane


def object_class(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    return {"class": _entry(session, args).class_name()}


def conforms(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    name = args.text("class")
    return {"conforms": _entry(session, args).meta_cast(name or "")}


def name(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    return {"name": _entry(session, args).get_name(_plane(ctx, args, optional=True))}


def entry_id(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    return {"entry_id": _entry(session, args).get_registry_entry_id() or 0}


def path(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    entry, plane = _entry(session, args), _plane(ctx, args)
    assert plane is not None
    found = get_path(ctx.host.registry, entry, plane)
    if found is None:
        raise BadRequest(f"the entry is not in the {plane} plane")
    return {"path": found}


def properties(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    return {"properties": _entry(session, args).copy_properties()}


def property_(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    entry, key = _entry(session, args), args.text("key")
    assert key is not None
    return {"value": entry.get_property(key), "found": entry.has_property(key)}


def parent(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    entry, plane = _entry(session, args), _plane(ctx, args)
    assert plane is not None
    found = entry.get_parent_entry(plane)
    if found is None:
        raise BadRequest(f"the entry has no parent in {plane}", IOReturn.NO_DEVICE)
    return {"object": add_handles(session, [found])[0]}


def children(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    entry, plane = _entry(session, args), _plane(ctx, args)
    assert plane is not None
    return iterate(session, entry.get_child_entries(plane), batch_size(args))


OPS: dict[str, Op] = {
    "get_matching": get_matching, "release": release, "retain": retain,
    "class": object_class, "conforms": conforms, "name": name, "entry_id": entry_id,
    "path": path, "properties": properties, "property": property_, "parent": parent,
    "children": children,
}
