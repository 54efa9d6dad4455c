"""What ioreg shows about one entry besides its properties: class, id, state, busy, retain.

These are the parts of ioreg's ``show`` that come from ``IOObjectGetClass``,
``IORegistryEntryGetRegistryEntryID``, ``IOServiceGetBusyStateAndTime`` and
``IOObjectGetRetainCount``; the text, archive and JSON outputs all read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.service import IOService, ServiceState

__all__ = ["ServiceFacts", "class_label", "inheritance", "node_label", "retain_count",
           "service_facts", "state_text"]

_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class ServiceFacts:
    """``IOServiceGetBusyStateAndTime`` of one IOService."""

    state: int
    busy: int
    busy_time_ns: int

    @property
    def registered(self) -> bool:
        return bool(self.state & ServiceState.REGISTERED)

    @property
    def matched(self) -> bool:
        return bool(self.state & ServiceState.MATCHED)

    @property
    def active(self) -> bool:
        return not self.state & ServiceState.INACTIVE


def service_facts(entry: IORegistryEntry) -> ServiceFacts | None:
    """The busy state and time of an IOService; None for a plain registry entry (Root)."""
    if not isinstance(entry, IOService):
        return None
    return ServiceFacts(entry._state, entry._busy, entry._busy_time_ns)


def inheritance(entry: IORegistryEntry) -> tuple[str, ...]:
    """The class chain from ``IORegistryEntry`` down to the entry's class (OSObject left out)."""
    return tuple(reversed(entry.class_chain))


def class_label(entry: IORegistryEntry, with_inheritance: bool = False) -> str:
    """``Class``, or with ``-i`` ``IORegistryEntry:IOService:...:Class``."""
    return ":".join(inheritance(entry)) if with_inheritance else entry.class_name()


def retain_count(entry: IORegistryEntry) -> int:
    """A deterministic stand-in for ``IOObjectGetRetainCount``.

    The real count is an implementation detail. We count what holds a reference in xnu:
    the creator (1), the user-space handle ioreg is reading through (1), each link in every
    plane (the parent's child array and the child's parent array each retain the other, so
    one per parent and one per child), and for a registered IOService the matching
    machinery's reference (1). For the dumps' typical nub with one provider and one client in
    two planes this lands in the 5..12 range the real dumps show.
    """
    return _retain_count(entry, service_facts(entry))


def _retain_count(entry: IORegistryEntry, facts: ServiceFacts | None) -> int:
    # A loop, not sum() over a generator: the text output counts for every entry it prints.
    count = 3 if facts is not None and facts.registered else 2
    for plane in entry.planes():
        count += len(entry.get_parent_entries(plane)) + len(entry.get_child_entries(plane))
    return count


def state_text(facts: ServiceFacts) -> str:
    """``registered, matched, active, busy 0 (12 ms)`` as ``show`` prints it.

    ioreg prints `` (T ms)`` whenever the accumulated busy time is nonzero, T being whole
    milliseconds; that is why the real dumps show ``busy 0 (0 ms)`` for services busy under
    a millisecond and plain ``busy 0`` for those never busy (user clients, device-tree
    nodes). We follow ioreg.c and the dumps, which agree.
    """
    text = (f"{'' if facts.registered else '!'}registered, "
            f"{'' if facts.matched else '!'}matched, "
            f"{'' if facts.active else 'in'}active, busy {facts.busy}")
    if facts.busy_time_ns:
        text += f" ({facts.busy_time_ns // _NS_PER_MS} ms)"
    return text


def node_label(entry: IORegistryEntry, plane: str, with_inheritance: bool = False,
               with_state: bool = True) -> str:
    """Everything after ``+-o ``: ``Name@loc  <class C, id 0x.., state, retain N>``."""
    # f-strings, not a list of parts joined: the text output makes one label per line.
    location = entry.get_location(plane)
    label = (f"{entry.get_name(plane)}{'' if location is None else '@' + location}"
             f"  <class {class_label(entry, with_inheritance)}")
    if not with_state:
        return label + ">"
    entry_id = entry.get_registry_entry_id()
    if entry_id is not None:
        label = f"{label}, id 0x{entry_id:x}"
    facts = service_facts(entry)
    if facts is not None:
        label = f"{label}, {state_text(facts)}"
    return f"{label}, retain {_retain_count(entry, facts)}>"
