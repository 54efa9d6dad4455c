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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iokit_sdk.keys import SERVICE_PLANE

from iokit_host.registry.path import format_component

if TYPE_CHECKING:
    from iokit_sdk.entry import IORegistryEntry

    from iokit_host.registry import IORegistry

__all__ = ["KINDS", "PowerEvent", "PowerLog"]

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


class PowerLog:
    """The events of one host, in time order.

    :param registry: where paths are read from when the log is read.
    """

    def __init__(self, registry: IORegistry) -> None:
        self._registry = registry
        self._records: list[_Record | None] = []
        self._services: dict[int, IORegistryEntry] = {}
        self._events: list[PowerEvent] = []
        self._open = 0
        # Paths captured for services that left the registry before the log was read.
        self._kept_paths: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._records)

    # -- writing (hot path) -------------------------------------------------------------------
    def add(self, t_ns: int, kind: str, service: IORegistryEntry | None, detail: str = "",
            from_state: int | None = None, to_state: int | None = None,
            duration_ns: int | None = None) -> None:
        self._records.append((t_ns, kind, self._key(service), from_state, to_state, detail,
                              duration_ns))

    def begin(self) -> int:
        """Reserve the slot of an event that lasts; fill it with :meth:`end`."""
        self._records.append(None)
        self._open += 1
        return len(self._records) - 1

    def end(self, slot: int, t_ns: int, kind: str, service: IORegistryEntry | None,
            detail: str, from_state: int | None, to_state: int | None, now_ns: int) -> None:
        if self._records[slot] is None:
            self._open -= 1
        self._records[slot] = (t_ns, kind, self._key(service), from_state, to_state, detail,
                               now_ns - t_ns)

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
        """Every finished event so far, in order (events still open are left out)."""
        paths = _Paths(self._registry, self._kept_paths)
        done = len(self._events)
        finished: list[PowerEvent] = []
        # Records before the first open slot are final and converted once; the rest are
        # converted afresh on each read.
        stable = done
        for index in range(done, len(self._records)):
            record = self._records[index]
            if record is None:
                break
            stable = index + 1
        for index in range(done, stable):
            record = self._records[index]
            assert record is not None
            self._events.append(_event(record, paths, self._services))
        for record in self._records[stable:]:
            if record is not None:
                finished.append(_event(record, paths, self._services))
        return (*self._events, *finished)

    def to_json(self) -> dict[str, Any]:
        return {"events": [event.to_json() for event in self.events()]}


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
