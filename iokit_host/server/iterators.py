"""Kernel-side iterators a client holds: the services a lookup matched, handed over a batch at a
time (IOUserClient.cpp ``IOUserIterator`` over an ``OSCollectionIterator``;
``is_io_iterator_next``, ``is_io_iterator_reset``, ``is_io_iterator_is_valid``).

``is_io_service_get_matching_services`` gives the program one port right, the iterator's: the
kernel keeps the matched set and the program gets a right for a service only as it calls
``IOIteratorNext``. Here a :class:`ServiceIterator` is one object of the session's
:class:`~.handles.HandleTable`, however many services it holds, and ``iterator_next`` hands
over up to ``count`` of them at once (IOKitLib buffers them, so a loop of ``IOIteratorNext``
costs one round trip a batch, and a lookup of a few services one round trip in all: the first
batch comes with the lookup's reply). So a registry of more than the 65,536 objects a
connection may hold is looked up whole, its services taken and released as the program goes.

The set is the lookup's own (``copyExistingServices`` builds a new ``OSSet``), and nothing
else changes it: the iterator never goes invalid (``isValid`` compares the set's update stamp,
which never moves), and ``IOIteratorReset`` starts it over on the same services. The existing
services of a matching notification wait in such an iterator too, one that does not rewind
(``IOUserNotification::reset`` does nothing) and lets go of its list once drained. What an
iterator holds is charged to its user (:meth:`~.handles.HandleTable.charge`): the matched
list, and no more, is what a client that never drains makes the kernel keep.

One difference from xnu: ``IOServiceUserNotification::handler`` keeps at most
``kMaxOutstanding`` (1,024) services waiting and drops the rest, existing ones included, so on a
Mac a notification installed over a bigger registry hands over only 1,024 of those already
there. Here every one waits in the iterator (it is the matched list, charged as above), as
programs and the explorer's watcher expect to be told of every service.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.returns import IOReturn

from iokit_host.server.args import Args, BadRequest
from iokit_host.server.context import KernelContext
from iokit_host.server.handles import MAX_ITERATOR_ITEMS_PER_USER
from iokit_host.server.session import Session

__all__ = ["BATCH_LIMIT", "DEFAULT_BATCH", "OPS", "ServiceIterator", "batch_size",
           "first_batch", "held_by"]

Op = Callable[[KernelContext, Session, Args], dict[str, Any]]

#: Services one ``iterator_next`` hands over at most (a batch's reply stays small).
BATCH_LIMIT = 4096
#: A batch's size when the request names none (IOKitLib's ``BATCH``: a lookup need not say it).
DEFAULT_BATCH = 256


@dataclass(eq=False, slots=True)
class ServiceIterator:
    """The services of one lookup, in order, and how far the client has taken them.

    ``rewinds``: ``iterator_reset`` starts it over (a lookup's); a notification's existing
    services do not rewind, and their list goes once taken.
    """

    services: Sequence[IORegistryEntry]
    session: Session
    rewinds: bool = True
    position: int = 0

    @classmethod
    def holding(cls, session: Session, services: Sequence[IORegistryEntry], *,
                rewinds: bool = True) -> ServiceIterator:
        """An iterator over ``services``, charged to the session's user.

        :raises BadRequest: ``kIOReturnNoResources``, the user's iterators hold too many.
        """
        if not session.handles.charge(len(services)):
            raise BadRequest(
                f"this user's iterators hold {MAX_ITERATOR_ITEMS_PER_USER} services together; "
                "iterate them to the end and release them (IOObjectRelease)",
                IOReturn.NO_RESOURCES)
        return cls(services, session, rewinds)

    @property
    def more(self) -> bool:
        return self.position < len(self.services)

    def take(self, count: int) -> list[int]:
        """A handle (one more reference) for each of the next ``count`` services; fewer when
        the client's table fills after the first.

        :raises BadRequest: ``kIOReturnNoResources``, not even one fits.
        """
        table, services, position = self.session.handles, self.services, self.position
        add = table.add
        handles: list[int] = []
        for service in services[position:position + count]:
            handle = add(service)
            if handle is None:
                if not handles:
                    raise BadRequest(table.full(), IOReturn.NO_RESOURCES)
                break
            handles.append(handle)
        self.position = position + len(handles)
        if not self.rewinds and not self.more:
            self.free()  # drained for good: its list goes now
        return handles

    def reset(self) -> None:
        if self.rewinds:
            self.position = 0

    def free(self) -> None:
        """Let go of the services (released, its session gone, or drained for good)."""
        if self.services:
            self.session.handles.refund(len(self.services))
        self.services, self.position = (), 0


def batch_size(args: Args) -> int:
    """The request's ``count`` (default :data:`DEFAULT_BATCH`)."""
    if "count" not in args.message:
        return DEFAULT_BATCH
    return args.number("count", low=1, high=BATCH_LIMIT)


def first_batch(session: Session, iterator: ServiceIterator, count: int) -> dict[str, Any]:
    """The reply fields of a batch: ``objects`` and ``more``. A first batch the table has no
    room for is no error (the iterator is there; ``iterator_next`` says so when asked)."""
    try:
        objects = iterator.take(count)
    except BadRequest:
        objects = []
    return {"objects": objects, "more": iterator.more}


def held_by(session: Session, args: Args) -> ServiceIterator:
    """The iterator ``args['iterator']`` names: a lookup's, or a matching notification's
    existing services (its notification's handle is its iterator, as in IOKit).

    :raises BadRequest: the handle names neither.
    """
    from iokit_host.server.notifications import MatchingNotification  # a cycle, else

    handle = args.message.get("iterator")
    found = session.handles.get(handle, ServiceIterator)
    if found is not None:
        return found
    record = session.handles.get(handle, MatchingNotification)
    if record is None or record.existing is None:
        raise BadRequest("'iterator' is not an iterator this client holds")
    return record.existing


def _release(ctx: KernelContext, session: Session, args: Args) -> None:
    if "release" in args.message:
        from iokit_host.server.registry_ops import release_all  # a cycle, else

        release_all(ctx, session, args.numbers("release", limit=BATCH_LIMIT))


def iterator_next(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """Up to ``count`` more services (``IOIteratorNext``, a batch at a time); ``release``:
    handles to drop first (a watcher that releases as it goes: one round trip a batch)."""
    iterator, count = held_by(session, args), batch_size(args)
    _release(ctx, session, args)
    return {"objects": iterator.take(count) if iterator.more else [], "more": iterator.more}


def iterator_reset(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """Start over (``IOIteratorReset``); ``release``: the handles IOKitLib had taken but not
    handed to the program, dropped first. Replies with the first batch again."""
    iterator, count = held_by(session, args), batch_size(args)
    _release(ctx, session, args)
    iterator.reset()
    return first_batch(session, iterator, count)


OPS: dict[str, Op] = {"iterator_next": iterator_next, "iterator_reset": iterator_reset}
