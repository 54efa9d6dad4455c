"""Event scenarios: plug, unplug and publish events applied to a booted host (``--events``).

On a Mac devices arrive and leave while the system runs (hot-plug: a bus driver publishes or
terminates a nub) and drivers publish resources. A scenario file lists such events in TOML,
in order, each optionally at a time on the host clock; docs/lifecycle.md documents the format.

A scenario is user input: a damaged event is reported (file, ``event[N]``, key, reason) and
skipped, and an event that cannot be applied (an unplug of a path that is not there) is
reported when its turn comes; the others still run. Only a file that cannot be read at all
refuses the whole scenario.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iokit_host.errors import Diagnostic, IOKitError, Severity
from iokit_host.machine.model import NubSpec
from iokit_host.machine.values import decode_value

if TYPE_CHECKING:
    from iokit_host.host import IOKitHost

__all__ = ["MAX_AT_NS", "Event", "ScenarioError", "apply_events", "read_events"]

#: The host clock counts nanoseconds in 64 bits, as ``mach_absolute_time`` does.
MAX_AT_NS = (1 << 64) - 1
Report = Callable[[Diagnostic], None]


class ScenarioError(IOKitError):
    reference = "scenario-invalid"


@dataclass(frozen=True, slots=True)
class Event:
    """One event: ``plug`` (``nub`` under ``target``), ``unplug`` (``target``), ``publish``."""

    action: str
    target: str | None = None
    nub: NubSpec | None = None
    resource: str | None = None
    at_ns: int | None = None


def read_events(path: str | Path, *, report: Report | None = None) -> list[Event]:
    """The events of scenario file ``path``, in order.

    :param report: where a damaged event's diagnostic goes; that event is then skipped and
        the rest are read. Without it the first damaged event raises :class:`ScenarioError`.
    :raises ScenarioError: the file cannot be read or is not a scenario at all.
    """
    file = str(path)
    raw_events = _load(path).get("event", [])
    if not isinstance(raw_events, list):
        raise ScenarioError("'event' must be an array of tables ([[event]])", file=file,
                            hint="write each event as a [[event]] table")
    events = []
    for index, raw in enumerate(raw_events):
        try:
            events.append(_event(raw, f"event[{index}]", file))
        except ScenarioError as error:
            if report is None:
                raise
            report(error.diagnostic)
    return events


def _load(path: str | Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ScenarioError(f"cannot read scenario: {error}", file=str(path),
                            hint="a scenario is a UTF-8 TOML file of [[event]] tables"
                            ) from error
    except (RecursionError, ValueError) as error:  # nesting or an integer past tomllib's limits
        raise ScenarioError(f"cannot read scenario: {type(error).__name__}: {error}",
                            file=str(path), hint="values nest a few levels at most, and "
                            "numbers fit in 64 bits") from error


def _event(raw: object, where: str, file: str) -> Event:
    if not isinstance(raw, Mapping):
        raise ScenarioError("an event must be a table", file=file, key=where)
    action = raw.get("action")
    if not isinstance(action, str) or action not in _READERS:
        raise ScenarioError(f"action must be one of {', '.join(_READERS)}, not {action!r}",
                            file=file, key=f"{where}.action")
    at_ns = _at_ns(raw, where, file)
    return _READERS[action](raw, where, file, at_ns)


def _at_ns(raw: Mapping[str, Any], where: str, file: str) -> int | None:
    value = raw.get("at-ns")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AT_NS:
        raise ScenarioError(f"'at-ns' must be a whole number of nanoseconds from 0 to 2**64-1, "
                            f"not {value!r}", file=file, key=f"{where}.at-ns")
    return value


def _plug(raw: Mapping[str, Any], where: str, file: str, at_ns: int | None) -> Event:
    return Event("plug", _text(raw, "parent", where, file), _nub(raw, where, file), at_ns=at_ns)


def _unplug(raw: Mapping[str, Any], where: str, file: str, at_ns: int | None) -> Event:
    return Event("unplug", _text(raw, "path", where, file), at_ns=at_ns)


def _publish(raw: Mapping[str, Any], where: str, file: str, at_ns: int | None) -> Event:
    return Event("publish", resource=_text(raw, "resource", where, file), at_ns=at_ns)


_READERS = {"plug": _plug, "unplug": _unplug, "publish": _publish}


def _text(raw: Mapping[str, Any], key: str, where: str, file: str, *,
          optional: bool = False) -> str | None:
    value = raw.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"'{key}' must be a non-empty string, not {value!r}", file=file,
                            key=f"{where}.{key}")
    return value


def _nub(raw: Mapping[str, Any], where: str, file: str) -> NubSpec:
    table = raw.get("nub")
    if not isinstance(table, Mapping):
        raise ScenarioError("a plug event needs an [event.nub] table", file=file,
                            key=f"{where}.nub")
    at = f"{where}.nub"
    class_name = _text(table, "class", at, file)
    properties = table.get("properties", {})
    if not isinstance(properties, Mapping):
        raise ScenarioError("'properties' must be a table", file=file, key=f"{at}.properties")
    try:
        props = {key: decode_value(value, file=file, node=at, key=key)
                 for key, value in properties.items()}
    except IOKitError as error:
        raise ScenarioError(error.diagnostic.message, file=file,
                            key=f"{at}.properties") from error
    assert class_name is not None
    return NubSpec(class_name, name=_text(table, "name", at, file, optional=True),
                   location=_text(table, "location", at, file, optional=True),
                   properties=props)


def apply_events(host: IOKitHost, events: list[Event]) -> list[str]:
    """Apply ``events`` in order; returns one line per event, for ``iokit boot`` to print.

    An event that cannot be applied is reported on the host (``scenario-event-failed``) and
    the next one runs."""
    lines: list[str] = []
    for index, event in enumerate(events):
        if event.at_ns is not None and event.at_ns > host.clock.now_ns():
            host.clock.advance_to(event.at_ns)
        try:
            lines.extend(_apply_one(host, event))
        except IOKitError as error:
            message = error.diagnostic.message
            lines.append(f"[t={host.clock.now_ns()}ns] skipped {event.action}: {message}")
            host.kernel.report(Diagnostic(
                "scenario-event-failed", f"{event.action} event {index}: {message}", subject=event.target or event.resource,
                hint="name the nub by a registry path or a name `iokit ioreg` shows",
                severity=Severity.WARNING))
    return lines


def _apply_one(host: IOKitHost, event: Event) -> list[str]:
    at = f"[t={host.clock.now_ns()}ns]"
    if event.action == "plug":
        assert event.nub is not None and event.target is not None
        nub = host.plug(event.nub, event.target)
        drivers = ", ".join(d.iokit_class_name for d in host.drivers_of(nub)) or "no driver"
        return [f"{at} plugged {host.path_of(nub)}: {drivers}"]
    if event.action == "unplug":
        assert event.target is not None
        victims = host.unplug(event.target)
        return [f"{at} unplugged {event.target}: terminated "
                + ", ".join(v.iokit_class_name for v in victims)]
    assert event.resource is not None
    before = set(host.kernel.binder.started)
    host.publish_resource(event.resource)
    started = [d.iokit_class_name for d in host.kernel.binder.started if d not in before]
    return [f"{at} published {event.resource}: started {', '.join(started) or 'nothing'}"]
