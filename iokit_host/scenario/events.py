"""A scenario's event (:class:`Event`) and its error: what a scenario file's ``[[event]]``
table is read as, and applied from (:mod:`.reading`, :mod:`.applying`). IOKit has no file of
events; each stands for something that happens on a running Mac (a device plugged, a system
sleep, a power assertion taken)."""

from __future__ import annotations

from dataclasses import dataclass

from iokit_host.errors import IOKitError
from iokit_host.machine.model import NubSpec

__all__ = ["MAX_AT_NS", "Event", "ScenarioError"]

#: The host clock counts nanoseconds in 64 bits, as ``mach_absolute_time`` does.
MAX_AT_NS = (1 << 64) - 1


class ScenarioError(IOKitError):
    reference = "scenario-invalid"


@dataclass(frozen=True, slots=True)
class Event:
    """One event: ``plug`` (``nub`` under ``target``), ``unplug`` (``target``), ``publish``
    (``resource``); ``sleep``, ``wake``, ``idle`` (with an optional ``reason``), ``advance``
    (``ms``), ``tickle`` (``target``, optionally at ``state``), ``assert`` and ``release``
    (``name`` and ``assertion_type``; ``assert`` also ``level``, ``owner`` and ``pid``)."""

    action: str
    target: str | None = None
    nub: NubSpec | None = None
    resource: str | None = None
    at_ns: int | None = None
    ms: float | None = None
    state: int | None = None
    reason: str | None = None
    name: str | None = None
    assertion_type: str | None = None
    level: int = 255
    owner: str = "iokit"
    pid: int = 0
    #: Its position in the file (``event[N]``), so a diagnostic names it even when damaged
    #: events before it were skipped; None for an event made in code.
    index: int | None = None
