"""A registry snapshot fetched and rebuilt as a pipeline: the next part asked for before the
last one is rebuilt.

``ioreg`` on a Mac reads the next entry through IOKitLib while it prints the last. A tool here
fetches a running kernel's registry in parts (:func:`.snapshot.take_part`); the kernel and the
tool are two processes, so while the tool makes one part's entries
(:class:`.snapshot.Rebuild`, about as long as the kernel takes to take and pack a part) the
kernel takes the next: the tool asks for it the moment it has read where the part ends, before
rebuilding it. The parts and their ``stale`` restarts are :func:`.snapshot.fetch`'s (the same
requests, in the same order), and the registry is the one :func:`.snapshot.rebuild` makes of
the whole snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from iokit_sdk.wirecodec import gc_paused

from iokit_host.registry import IORegistry
from iokit_host.server.snapshot import RESTARTS, Rebuild, SnapshotError, part_of

__all__ = ["Asker", "fetch_rebuilt"]

T = TypeVar("T")


class Asker(Generic[T]):
    """How the tool talks to the kernel: ``send(**fields)`` sends a ``tool.registry``
    request without waiting, and returns what ``receive`` takes to wait for its reply."""

    __slots__ = ("receive", "send")

    def __init__(self, send: Callable[..., T], receive: Callable[[T], Mapping[str, Any]]
                 ) -> None:
        self.send = send
        self.receive = receive


def fetch_rebuilt(asker: Asker[Any]) -> IORegistry:
    """The kernel's registry, fetched in parts and rebuilt as they come; begun again from the
    first entry when the registry's shape changed meanwhile (``stale``).

    :raises SnapshotError: a reply that is not a part of a snapshot, or a kernel that kept
        answering ``stale`` past the walk it owes a connection whose walks went stale.
    """
    with gc_paused():  # tens of thousands of containers made: no collection walks them
        for _ in range(RESTARTS + 2):
            registry = _walk(asker)
            if registry is not None:
                return registry
    raise SnapshotError("the registry kept changing while it was read, and the kernel did "
                        "not send it whole")


def _walk(asker: Asker[Any]) -> IORegistry | None:
    """One walk of the registry, rebuilt; None when it went stale (begin again)."""
    reply = asker.receive(asker.send())
    part = part_of(reply, first=True)
    rebuilding = Rebuild(part)
    generation = reply.get("generation")
    while True:
        entries = part["entries"]
        more = reply.get("more")
        if more:  # asked for first: the kernel takes it while this part is rebuilt
            pending = asker.send(after=_last_id(entries), generation=generation)
        rebuilding.add(entries)
        if not more:
            return rebuilding.finish()
        reply = asker.receive(pending)
        if reply.get("stale"):
            return None
        part = part_of(reply, first=False)


def _last_id(entries: list[Any]) -> Any:
    """The id of a part's last entry, which the next part follows."""
    try:
        return entries[-1][0]  # (a row's first field)
    except (IndexError, KeyError, TypeError) as error:
        raise SnapshotError("not a registry snapshot: a part that does not end with an "
                            "entry's record") from error
