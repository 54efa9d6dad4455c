"""Work that waits, with its reason: the inspectable queue (IOKit's blocked config threads).

In IOKit a driver whose personality or nub names an ``IOResourceMatch`` not yet published
blocks its config thread in ``checkResources`` until the resource appears; a personality for
``IOResources`` whose resource is missing simply does not match until ``publishResource``
registers IOResources again; ``waitForMatchingService`` sleeps until a matched notification
or its timeout. Nothing of that is visible on a Mac. Here each waiting thing is an entry with a
reason string (the Linux deferred-probe list's idea), listed by ``host.waiting``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iokit_host.clock import MAX_NS

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["ParkedStart", "WaitingEntry", "WaitingQueue", "wait_for_matching_service"]


@dataclass(frozen=True, slots=True)
class WaitingEntry:
    """One thing that waits.

    :param kind: ``start`` (a driver parked before ``start``), ``resource-match`` (an
        IOResources personality whose resource is missing) or ``service``
        (``wait_for_matching_service``).
    :param subject: what waits: ``bundle/IOClass on nub`` or the matching dictionary.
    :param reason: why, in one sentence.
    :param resources: the resources it waits for.
    :param since_ns: host clock time it started waiting.
    :param deadline_ns: when it gives up, or None (no timeout, as IOKit's resource waits).
    """

    kind: str
    subject: str
    reason: str
    resources: tuple[str, ...] = ()
    since_ns: int = 0
    deadline_ns: int | None = None


@dataclass(eq=False, slots=True)
class ParkedStart:
    """A category whose start is parked on missing resources; ``candidates`` resume in order."""

    nub: IOService
    category: str
    candidates: list[Any]
    needed: tuple[str, ...]
    entry: WaitingEntry = field(repr=False)


class WaitingQueue:
    """Everything waiting on one host."""

    def __init__(self) -> None:
        self._parked: list[ParkedStart] = []
        self._resource_matches: dict[tuple[int, int], WaitingEntry] = {}
        self._services: dict[int, WaitingEntry] = {}

    # -- parked starts ------------------------------------------------------------------
    def park(self, parked: ParkedStart) -> None:
        self._parked.append(parked)

    def parked(self) -> tuple[ParkedStart, ...]:
        return tuple(self._parked)

    def release_ready(self, published: set[str] | Any) -> list[ParkedStart]:
        """Remove and return the parked starts whose resources are now all published."""
        ready = [p for p in self._parked if all(name in published for name in p.needed)]
        self._parked = [p for p in self._parked if p not in ready]
        return ready

    def drop_nub(self, nub: IOService) -> None:
        """Forget everything waiting on a nub that is being terminated."""
        self._parked = [p for p in self._parked if p.nub is not nub]
        nub_id = id(nub)
        for key in [k for k in self._resource_matches if k[0] == nub_id]:
            del self._resource_matches[key]

    # -- IOResources personalities whose resource is missing -----------------------------
    def note_resource_match(self, nub: IOService, seq: int, entry: WaitingEntry) -> None:
        self._resource_matches[(id(nub), seq)] = entry

    def clear_resource_matches(self, nub: IOService) -> None:
        nub_id = id(nub)
        for key in [k for k in self._resource_matches if k[0] == nub_id]:
            del self._resource_matches[key]

    # -- wait_for_matching_service -------------------------------------------------------
    def add_service_wait(self, token: int, entry: WaitingEntry) -> None:
        self._services[token] = entry

    def remove_service_wait(self, token: int) -> None:
        self._services.pop(token, None)

    # -- inspection ----------------------------------------------------------------------
    def entries(self) -> tuple[WaitingEntry, ...]:
        return (*(p.entry for p in self._parked), *self._resource_matches.values(),
                *self._services.values())

    def __iter__(self) -> Iterator[WaitingEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self._parked) + len(self._resource_matches) + len(self._services)


def wait_for_matching_service(kernel: WorkLoop, matching: Mapping[str, Any],
                              timeout_ns: int | None) -> IOService | None:
    """``waitForMatchingService`` on the driven clock.

    Looks for a matched service first; otherwise installs a matched notifier, lists itself in
    the waiting queue, and moves the clock from timer to timer (each may plug a device or
    publish a resource) until a service arrives or the deadline passes. With no timeout and
    no timer left it gives up rather than hang, as nothing else could ever wake it.
    """
    kernel.run_until_quiet()
    existing = kernel.copy_matching_services(matching)
    if existing:
        return existing[0]
    clock = kernel.clock
    # (A timeout past the clock's end waits to its end: mach_absolute_time stops at 2**64-1.)
    deadline = None if timeout_ns is None else min(clock.now_ns() + timeout_ns, MAX_NS)
    arrived: list[IOService] = []
    notifier = kernel.notifications.install("matched", matching, arrived.append)
    token = id(notifier)
    kernel.waiting.add_service_wait(token, WaitingEntry(
        "service", repr(dict(matching)), "waiting for a matching service to be matched",
        (), clock.now_ns(), deadline))
    try:
        while not arrived:
            due = clock.next_deadline()
            if due is None or (deadline is not None and due > deadline):
                if deadline is not None:
                    clock.advance_to(deadline)
                break
            clock.advance_to(due)
            kernel.run_until_quiet()
    finally:
        notifier.remove()
        kernel.waiting.remove_service_wait(token)
    return arrived[0] if arrived else None
