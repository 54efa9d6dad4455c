"""The sleep/wake log: what ``pmset -g log`` reads (powerd's ASL log fed by IOPMrootDomain's
trace points and IOServicePM's ``PM_LOG``/``pmStatsRecordApplicationResponse``).

Every system transition and every driver's change is an event with its host-clock time: the
system sleeping and waking, each ``set_power_state`` and will/did notification with how long
the driver took, late acknowledgements, vetoes, idle drops, assertions, messages, the sleep/wake
watchdog and driver faults. Events are recorded cheaply on the hot path (a tuple holding the
service) and turned into :class:`PowerEvent` values, with registry paths, when read: a path is
spelt once per service, from its parent's, so a log of a deep tree reads in linear time.

An event with a duration (a system transition, a driver call waiting for its acknowledgement)
is reserved when it starts and filled in when it ends, so the log stays in time order; a
reserved slot that is never filled is an unfinished change (:meth:`PowerLog.unfinished`).

The log is bounded, as the kernel's and powerd's are (IOPMrootDomain keeps its trace points
and wake reasons in fixed buffers; powerd's log rotates): it keeps the most recent
:data:`MAX_LOG_RECORDS` records and counts the ones it dropped, so a scenario of thousands of
sleeps does not fill memory, and ``pmset -g log`` says how many earlier records are gone.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iokit_sdk.keys import SERVICE_PLANE

from iokit_host.registry.path import format_component

if TYPE_CHECKING:
    from iokit_sdk.entry import IORegistryEntry

    from iokit_host.registry import IORegistry

__all__ = ["KINDS", "MAX_LOG_RECORDS", "LogRead", "PowerEvent", "PowerLog",
           "is_completed_sleep"]

#: The most records the log keeps: a sleep and wake of a 10,000-node tree whole (about four
#: records a node); each record read is a few hundred bytes, so the log stays in tens of MB.
MAX_LOG_RECORDS = 100_000

#: Event kinds, in the words ``iokit pmset -g log`` shows.
KINDS = frozenset({
    "system-sleep", "system-wake", "set-power-state", "will-change", "did-change",
    "acknowledged", "ack-timeout", "veto", "idle-drop", "assertion", "message", "watchdog",
    "fault", "request",
})

# One raw record: (t_ns, kind, the service's key or None, from, to, detail, duration_ns or None).
# Services are kept by key in a side table, so a record holds only numbers and strings: the
# garbage collector stops tracking it, which keeps a sleep of a big tree from slowing down.
_Record = tuple[int, str, "int | None", "int | None", "int | None", str, "int | None"]


@dataclass(frozen=True, slots=True)
class PowerEvent:
    """One line of the sleep/wake log.

    :param t_ms: host-clock time the event started, in milliseconds.
    :param kind: one of :data:`KINDS`.
    :param path: the service's IOService-plane path (None for the system as a whole, or a
        service no longer in the registry).
    :param class_name: the service's IOKit class (``class`` in JSON).
    :param from_state: the state left (``from``), when the event is a change.
    :param to_state: the state entered (``to``).
    :param detail: what happened, in words (who was late, who vetoed, ...).
    :param duration_ms: how long it took, for events that last (a transition, a driver call).
    """

    t_ms: float
    kind: str
    path: str | None
    class_name: str | None
    from_state: int | None
    to_state: int | None
    detail: str
    duration_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"t_ms", "kind", "path", "class", "from", "to", "detail"}`` (+ ``duration_ms``
        when the event lasts)."""
        data: dict[str, Any] = {"t_ms": self.t_ms, "kind": self.kind, "path": self.path,
                                "class": self.class_name, "from": self.from_state,
                                "to": self.to_state, "detail": self.detail}
        if self.duration_ms is not None:
            data["duration_ms"] = self.duration_ms
        return data


@dataclass(frozen=True, slots=True)
class LogRead:
    """The log as read: its events, and what was dropped to keep it bounded.

    :param events: the finished events kept, in order.
    :param dropped: how many earlier records the log dropped (0 when it holds them all).
    :param dropped_sleeps: how many of those were completed system sleeps, so the total of
        sleeps since boot stays right.
    """

    events: tuple[PowerEvent, ...]
    dropped: int = 0
    dropped_sleeps: int = 0


class PowerLog:
    """The events of one host, in time order; the most recent ``capacity`` of them.

    :param registry: where paths are read from when the log is read.
    :param capacity: the most records kept (:data:`MAX_LOG_RECORDS`); older ones are dropped
        and counted.
    """

    def __init__(self, registry: IORegistry, capacity: int | None = None) -> None:
        capacity = MAX_LOG_RECORDS if capacity is None else capacity
        if capacity < 1:
            raise ValueError("a log keeps at least one record")
        self._registry = registry
        self._capacity = capacity
        # Records by absolute slot number: _records[0] is slot _first (those before it were
        # dropped). A deque drops from its front in constant time.
        self._records: deque[_Record | None] = deque()
        self._first = 0
        self._dropped_sleeps = 0
        self._dropped_open: set[int] = set()  # dropped slots still waiting for their end
        self._services: dict[int, IORegistryEntry] = {}
        # Converted events of slots [_converted - len(_events), _converted).
        self._events: deque[PowerEvent] = deque()
        self._converted = 0
        self._open = 0
        # Paths captured for services that left the registry before the log was read.
        self._kept_paths: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._records)

    @property
    def dropped(self) -> int:
        """How many records were dropped to keep the log within its capacity."""
        return self._first

    # -- writing (hot path) -------------------------------------------------------------------
    def add(self, t_ns: int, kind: str, service: IORegistryEntry | None, detail: str = "",
            from_state: int | None = None, to_state: int | None = None,
            duration_ns: int | None = None) -> None:
        if len(self._records) >= self._capacity:
            self._drop_oldest()
        self._records.append((t_ns, kind, self._key(service), from_state, to_state, detail,
                              duration_ns))

    def begin(self) -> int:
        """Reserve the slot of an event that lasts; fill it with :meth:`end`."""
        if len(self._records) >= self._capacity:
            self._drop_oldest()
        self._records.append(None)
        self._open += 1
        return self._first + len(self._records) - 1

    def end(self, slot: int, t_ns: int, kind: str, service: IORegistryEntry | None,
            detail: str, from_state: int | None, to_state: int | None, now_ns: int) -> None:
        index = slot - self._first
        if index < 0:  # its slot was dropped while it lasted: the event is counted, not kept
            if slot in self._dropped_open:
                self._dropped_open.discard(slot)
                self._open -= 1
                self._dropped_sleeps += is_completed_sleep(kind, detail)
            return
        records = self._records
        if records[index] is None:
            self._open -= 1
        key = None
        if service is not None:  # _key, inline: this ends every driver call of a sleep
            key = id(service)
            if key not in self._services:
                self._services[key] = service
        records[index] = (t_ns, kind, key, from_state, to_state, detail, now_ns - t_ns)

    def _drop_oldest(self) -> None:
        """Drop the oldest record: counted, and a completed sleep counted as one."""
        record = self._records.popleft()
        if record is None:
            self._dropped_open.add(self._first)
        elif record[1] == "system-sleep":  # is_completed_sleep's first test, inline
            self._dropped_sleeps += is_completed_sleep(record[1], record[5])
        self._first += 1
        if self._first % self._capacity == 0:
            self._forget_services()

    def _forget_services(self) -> None:
        """Let go of the services (and kept paths) only dropped records named: once per
        ``capacity`` records dropped, so constant time a record."""
        keys = {record[2] for record in self._records if record is not None}
        self._services = {k: v for k, v in self._services.items() if k in keys}
        self._kept_paths = {k: v for k, v in self._kept_paths.items() if k in keys}

    def _key(self, service: IORegistryEntry | None) -> int | None:
        if service is None:
            return None
        key = id(service)
        if key not in self._services:
            self._services[key] = service
        return key

    def unfinished(self) -> int:
        """How many events were begun and not ended (changes still under way)."""
        return self._open

    def keep_path(self, service: IORegistryEntry) -> None:
        """Remember ``service``'s path before it leaves the registry (``PMstop``)."""
        path = _Paths(self._registry).of(service)
        if path is not None:
            self._kept_paths[id(service)] = path

    # -- reading ----------------------------------------------------------------------------------
    def events(self) -> tuple[PowerEvent, ...]:
        """Every finished event kept, in order (events still open are left out)."""
        paths = _Paths(self._registry, self._kept_paths)
        converted = self._events
        while converted and self._converted - len(converted) < self._first:
            converted.popleft()  # its record was dropped since the last read
        start = max(self._converted, self._first) - self._first
        # Records before the first open slot are final and converted once; the rest are
        # converted afresh on each read.
        finished: list[PowerEvent] = []
        stable = 0  # records converted for good this time
        for record in itertools.islice(self._records, start, None):
            if record is None:
                finished.append(_UNFINISHED)
            elif not finished:
                converted.append(_event(record, paths, self._services))
                stable += 1
            else:
                finished.append(_event(record, paths, self._services))
        self._converted = self._first + start + stable
        return (*converted, *(event for event in finished if event is not _UNFINISHED))

    def read(self) -> LogRead:
        """The events kept, with how many records (and completed sleeps) were dropped."""
        return LogRead(self.events(), self._first, self._dropped_sleeps)

    def to_json(self) -> dict[str, Any]:
        """``{"events": [...]}``; with ``"dropped"`` and ``"dropped_sleeps"`` when the log
        dropped earlier records."""
        return read_to_json(self.read())


def read_to_json(read: LogRead) -> dict[str, Any]:
    """A :class:`LogRead` as ``pmset -g log --json`` prints it (and the kernel sends it)."""
    data: dict[str, Any] = {"events": [event.to_json() for event in read.events]}
    if read.dropped:
        data["dropped"] = read.dropped
        data["dropped_sleeps"] = read.dropped_sleeps
    return data


#: Marks an open slot while a read converts the records after it.
_UNFINISHED = PowerEvent(0.0, "", None, None, None, None, "")


def is_completed_sleep(kind: str, detail: str) -> int:
    """1 for a completed system sleep (what ``pmset -g log``'s sleep total counts), else 0:
    the one test for kept and dropped records alike."""
    return int(kind == "system-sleep" and detail.endswith(": asleep"))


def _event(record: _Record, paths: _Paths, services: dict[int, IORegistryEntry]) -> PowerEvent:
    t_ns, kind, key, from_state, to_state, detail, duration_ns = record
    service = services[key] if key is not None else None
    return PowerEvent(
        t_ms=t_ns / 1e6, kind=kind,
        path=paths.of(service) if service is not None else None,
        class_name=service.iokit_class_name if service is not None else None,
        from_state=from_state, to_state=to_state, detail=detail,
        duration_ms=duration_ns / 1e6 if duration_ns is not None else None)


class _Paths:
    """IOService-plane paths, each built from its parent's (memoised for one read)."""

    def __init__(self, registry: IORegistry, kept: dict[int, str] | None = None) -> None:
        self._registry = registry
        self._kept = kept or {}
        self._memo: dict[int, str | None] = {}
        root = registry.plane_root(SERVICE_PLANE)
        if root is not None:
            self._memo[id(root)] = f"{SERVICE_PLANE}:/"

    def of(self, entry: IORegistryEntry) -> str | None:
        memo = self._memo
        if id(entry) in memo:
            return memo[id(entry)]
        # Walk up to the first entry whose path is known, then spell the way back down.
        chain: list[IORegistryEntry] = []
        node: IORegistryEntry | None = entry
        while node is not None and id(node) not in memo:
            if node is self._registry.root or len(chain) > 1_000_000:
                node = None
                break
            chain.append(node)
            node = node.get_parent_entry(SERVICE_PLANE)
        base = memo[id(node)] if node is not None else None
        for link in reversed(chain):
            if base is not None:
                component = _component(link)
                base = base + component if base.endswith(":/") else f"{base}/{component}"
            memo[id(link)] = base if base is not None else self._kept.get(id(link))
            base = memo[id(link)]
        return memo[id(entry)]


def _component(entry: IORegistryEntry) -> str:
    """The entry's path component; its class name when a driver's name override fails."""
    try:
        return format_component(entry, SERVICE_PLANE)
    except Exception:  # noqa: BLE001 - get_name/get_location may be driver code
        return entry.iokit_class_name
