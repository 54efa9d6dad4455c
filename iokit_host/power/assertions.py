"""Power assertions (``IOPMAssertionCreateWithName`` / ``IOPMAssertionRelease``, kept by powerd;
what ``pmset -g assertions`` lists).

An assertion has an id, a type (``PreventUserIdleSystemSleep``, ``PreventSystemSleep``,
``PreventUserIdleDisplaySleep``, ...), a name, a level (``kIOPMAssertionLevelOn`` = 255 or
``kIOPMAssertionLevelOff`` = 0), an owner (pid and process name) and its creation time. The
root domain consults them before an idle sleep (``checkSystemCanSleep``): an idle-sleep
preventer at level On holds idle sleep off; a demand sleep (lid, menu, ``pmset sleepnow``)
goes ahead regardless, as on a Mac.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from dataclasses import dataclass

from iokit_host.errors import IOKitError, quoted

__all__ = ["AGGREGATED_AS", "ASSERTION_TYPES", "IDLE_SLEEP_PREVENTERS", "SYSTEM_SLEEP_PREVENTERS", "Assertion",
           "AssertionError_", "Assertions", "kIOPMAssertionLevelOff", "kIOPMAssertionLevelOn"]

kIOPMAssertionLevelOff = 0
kIOPMAssertionLevelOn = 255

#: Assertion types (IOPMLib.h, ``kIOPMAssert*`` / ``kIOPMAssertionType*``), in the order
#: ``pmset -g assertions`` prints its system-wide lines.
ASSERTION_TYPES = (
    "PreventUserIdleSystemSleep", "PreventUserIdleDisplaySleep", "PreventSystemSleep",
    "NetworkClientActive", "PreventDiskIdle", "UserIsActive", "BackgroundTask",
    "ApplePushServiceTask", "InteractivePushServiceTask", "ExternalMedia",
    "NoIdleSleepAssertion", "NoDisplaySleepAssertion",
)
#: Types that hold idle sleep off (``NoIdleSleepAssertion`` is the deprecated spelling).
IDLE_SLEEP_PREVENTERS = frozenset({"PreventUserIdleSystemSleep", "PreventSystemSleep",
                                   "NoIdleSleepAssertion"})
SYSTEM_SLEEP_PREVENTERS = frozenset({"PreventSystemSleep"})
#: Deprecated names powerd counts under their current type in the system-wide status
#: (``kIOPMAssertionTypeNoIdleSleep`` is ``PreventUserIdleSystemSleep`` there).
AGGREGATED_AS = {"NoIdleSleepAssertion": "PreventUserIdleSystemSleep",
                 "NoDisplaySleepAssertion": "PreventUserIdleDisplaySleep"}
_MAX_NAME = 128


class AssertionError_(IOKitError):
    """An assertion request powerd would refuse (``kIOReturnBadArgument``)."""

    reference = "power-assertion-invalid"


@dataclass(frozen=True, slots=True)
class Assertion:
    """One assertion, as ``pmset -g assertions`` lists it.

    :param assertion_id: the id returned to its creator.
    :param type: the ``AssertType``.
    :param name: the ``AssertName`` its creator gave.
    :param level: 255 (on) or 0 (off).
    :param owner: the owning process's name.
    :param pid: the owning process's id.
    :param created_ns: host-clock time of creation.
    """

    assertion_id: int
    type: str
    name: str
    level: int
    owner: str
    pid: int
    created_ns: int

    @property
    def on(self) -> bool:
        return self.level == kIOPMAssertionLevelOn


class Assertions:
    """The assertions of one host, in creation order."""

    def __init__(self) -> None:
        self._by_id: dict[int, Assertion] = {}
        self._serial = itertools.count(1)
        #: Every assertion in creation order, released ones too until the list is compacted
        #: (when they are half of it): what :meth:`page` seeks in by an id's serial.
        self._order: list[Assertion] = []
        #: Assertions at level On, by the type the system-wide status counts them under.
        self._on: dict[str, int] = {}

    def create(self, type: str, name: str, *, level: int = kIOPMAssertionLevelOn,
               owner: str = "iokit", pid: int = 0, now_ns: int = 0) -> Assertion:
        """Record a new assertion.

        :raises AssertionError_: an unknown type, an empty or too long name, a level other
            than 0 or 255, a negative pid.
        """
        if type not in ASSERTION_TYPES:
            raise AssertionError_(f"unknown assertion type {quoted(type)}", key="type",
                                  hint=f"one of: {', '.join(ASSERTION_TYPES)}")
        if not isinstance(name, str) or not name or len(name) > _MAX_NAME:
            raise AssertionError_(f"an assertion name is 1 to {_MAX_NAME} characters",
                                  key="name", hint="name what the assertion is for")
        if level not in (kIOPMAssertionLevelOff, kIOPMAssertionLevelOn) or isinstance(level, bool):
            raise AssertionError_(f"level {quoted(level)} is neither 0 (off) nor 255 (on)",
                                  key="level", hint="use kIOPMAssertionLevelOn (255)")
        if not isinstance(pid, int) or pid < 0:
            raise AssertionError_(f"pid {quoted(pid)} is not a process id", key="pid")
        assertion_id = (pid << 32) | (0x10000 + next(self._serial))
        assertion = Assertion(assertion_id, type, name, level, owner, pid, now_ns)
        self._by_id[assertion_id] = assertion
        self._order.append(assertion)
        if assertion.on:
            counted = AGGREGATED_AS.get(type, type)
            self._on[counted] = self._on.get(counted, 0) + 1
        return assertion

    def release(self, assertion_id: int) -> Assertion | None:
        """Drop an assertion; None when no assertion has that id."""
        assertion = self._by_id.pop(assertion_id, None)
        if assertion is None:
            return None
        if assertion.on:
            self._on[AGGREGATED_AS.get(assertion.type, assertion.type)] -= 1
        if len(self._order) > 2 * len(self._by_id) + 64:
            self._order = list(self._by_id.values())
        return assertion

    def page(self, after: int, limit: int) -> tuple[list[Assertion], bool]:
        """At most ``limit`` assertions created after the one whose id is ``after`` (0: from
        the first; it may have been released since), in creation order, and whether more
        follow. Costs the page, not every assertion: a listing of a quarter million goes in
        parts, and whoever else asks the kernel something meanwhile is served between them."""
        order, active = self._order, self._by_id
        index = bisect_right(order, after & _SERIAL, key=_serial_of) if after else 0
        found: list[Assertion] = []
        while index < len(order) and len(found) < limit:
            assertion = order[index]
            if active.get(assertion.assertion_id) is assertion:
                found.append(assertion)
            index += 1
        while index < len(order) and active.get(order[index].assertion_id) is not order[index]:
            index += 1
        return found, index < len(order)

    def active(self) -> tuple[Assertion, ...]:
        return tuple(self._by_id.values())

    def preventing_idle_sleep(self) -> tuple[Assertion, ...]:
        """Assertions at level On that hold idle sleep off."""
        return tuple(a for a in self._by_id.values() if a.on and a.type in IDLE_SLEEP_PREVENTERS)

    def system_wide(self) -> dict[str, int]:
        """``Assertion status system-wide``: per type, 1 when an assertion of it is on; a
        deprecated type counts under its current name (:data:`AGGREGATED_AS`)."""
        return {name: int(self._on.get(name, 0) > 0) for name in ASSERTION_TYPES
                if name not in AGGREGATED_AS}


#: The bits of an assertion id that count its creation (the pid is above them).
_SERIAL = 0xFFFFFFFF


def _serial_of(assertion: Assertion) -> int:
    return assertion.assertion_id & _SERIAL
