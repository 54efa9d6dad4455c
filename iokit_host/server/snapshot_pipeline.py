"""A registry snapshot fetched and rebuilt as a pipeline: the next part asked for before the
last one is rebuilt.

``ioreg`` on a Mac reads the next entry through IOKitLib while it prints the last. A tool here
fetches a running kernel's registry in parts (:func:`.snapshot.take_part`); the kernel and the
tool are two processes, so while the tool makes one part's entries
(:class:`.snapshot_rebuild.Rebuild`, about as long as the kernel takes to take and pack a part) the
kernel takes the next: the tool asks for it the moment it has read where the part ends, before
rebuilding it. The registry is the one :func:`.snapshot_rebuild.rebuild` makes of the whole
snapshot. The explorer fetches the snapshot itself, as records (:func:`fetch`), by the same
walk: the same requests, in the same order, begun again as often.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from iokit_sdk.wirecodec import gc_paused

from iokit_host.registry import IORegistry
from iokit_host.server.snapshot import (
    RESTARTS,
    Row,
    SnapshotError,
    not_a_snapshot,
    part_of,
    record_of,
)
from iokit_host.server.snapshot_rebuild import Rebuild

__all__ = ["Asker", "fetch", "fetch_rebuilt"]

T = TypeVar("T")
Made_co = TypeVar("Made_co", covariant=True)


class Asker(Generic[T]):
    """How the tool talks to the kernel: ``send(**fields)`` sends a ``tool.registry``
    request without waiting, and returns what ``receive`` takes to wait for its reply."""

    __slots__ = ("receive", "send")

    def __init__(self, send: Callable[..., T], receive: Callable[[T], Mapping[str, Any]]
                 ) -> None:
        self.send = send
        self.receive = receive


class Sink(Protocol[Made_co]):
    """What a walk's parts go to, each as it comes: :meth:`add` its rows, :meth:`finish` once
    the last was added."""

    def add(self, rows: Any) -> None: ...

    def finish(self) -> Made_co: ...


def fetch_rebuilt(asker: Asker[Any]) -> IORegistry:
    """The kernel's registry, fetched in parts and rebuilt as they come (:func:`walked`).

    :raises SnapshotError: see :func:`walked`.
    """
    with gc_paused():  # tens of thousands of containers made: no collection walks them
        return walked(asker, Rebuild)


def fetch(ask: Callable[..., Mapping[str, Any]]) -> dict[str, Any]:
    """A whole snapshot as records (the explorer's), asked for in parts with
    ``ask(**fields)`` (a ``tool.registry`` request; its reply) by :func:`walked`.

    :raises SnapshotError: see :func:`walked`.
    """
    return walked(Asker(ask, _as_it_is), _Records)


def walked(asker: Asker[Any], start: Callable[[Mapping[str, Any]], Sink[T]]) -> T:
    """A snapshot fetched in parts, each given to the sink ``start`` makes of the first part;
    begun again from the first entry when the registry's shape changed meanwhile (``stale``).

    :raises SnapshotError: a reply that is not a part of a snapshot, or a kernel that kept
        answering ``stale`` past the walk it owes a connection whose walks went stale.
    """
    for _ in range(RESTARTS + 2):
        reply = asker.receive(asker.send())
        part = part_of(reply, first=True)
        sink = start(part)
        if _walk(asker, reply, part, sink):
            return sink.finish()
    raise SnapshotError("the registry kept changing while it was read, and the kernel did "
                        "not send it whole")


def _walk(asker: Asker[Any], reply: Mapping[str, Any], part: dict[str, Any],
          sink: Sink[Any]) -> bool:
    """One walk from its first part: True when its last part was added, False when it went
    stale (begin again)."""
    generation = reply.get("generation")
    while True:
        entries = part["entries"]
        more = reply.get("more")
        if more:  # asked for first: the kernel takes it while this part is added
            pending = asker.send(after=_last_id(entries), generation=generation)
        sink.add(entries)
        if not more:
            return True
        reply = asker.receive(pending)
        if reply.get("stale"):
            return False
        part = part_of(reply, first=False)


class _Records:
    """A sink making the snapshot of records the explorer reads (``planes``, ``root``,
    ``entries``)."""

    __slots__ = ("whole",)

    def __init__(self, first: Mapping[str, Any]) -> None:
        self.whole: dict[str, Any] = {**first, "entries": []}

    def add(self, rows: list[Row]) -> None:
        try:
            self.whole["entries"] += [record_of(row) for row in rows]
        except ValueError as error:
            raise not_a_snapshot(error) from error

    def finish(self) -> dict[str, Any]:
        return self.whole


def _as_it_is(reply: Mapping[str, Any]) -> Mapping[str, Any]:
    """A synchronous ask's "receive": its reply came with the asking."""
    return reply


def _last_id(entries: list[Any]) -> Any:
    """The id of a part's last entry, which the next part follows."""
    try:
        return entries[-1][0]  # (a row's first field)
    except (IndexError, KeyError, TypeError) as error:
        raise SnapshotError("not a registry snapshot: a part that does not end with an "
                            "entry's record") from error
