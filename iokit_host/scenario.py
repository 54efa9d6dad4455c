"""Event scenarios: plug, unplug and publish events applied to a booted host (``--events``).

On a Mac devices arrive and leave while the system runs (hot-plug: a bus driver publishes or
terminates a nub) and drivers publish resources. A scenario file lists such events in TOML,
in order, each optionally at a time on the host clock; docs/lifecycle.md documents the format.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iokit_host.errors import IOKitError
from iokit_host.machine.model import NubSpec
from iokit_host.machine.values import decode_value

if TYPE_CHECKING:
    from iokit_host.host import IOKitHost

__all__ = ["Event", "ScenarioError", "apply_events", "read_events"]

_ACTIONS = ("plug", "unplug", "publish")


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


def read_events(path: str | Path) -> list[Event]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ScenarioError(f"cannot read scenario: {error}", file=str(path)) from error
    raw_events = data.get("event", [])
    if not isinstance(raw_events, list):
        raise ScenarioError("'event' must be an array of tables ([[event]])", file=str(path))
    return [_event(raw, index, str(path)) for index, raw in enumerate(raw_events)]


def _event(raw: Mapping[str, Any], index: int, file: str) -> Event:
    action = raw.get("action")
    where = f"event[{index}]"
    if action not in _ACTIONS:
        raise ScenarioError(f"action must be one of {', '.join(_ACTIONS)}, not {action!r}",
                            file=file, key=where)
    at_ns = raw.get("at-ns")
    if action == "plug":
        return Event("plug", _text(raw, "parent", where, file), _nub(raw, where, file),
                     at_ns=at_ns)
    if action == "unplug":
        return Event("unplug", _text(raw, "path", where, file), at_ns=at_ns)
    return Event("publish", resource=_text(raw, "resource", where, file), at_ns=at_ns)


def _text(raw: Mapping[str, Any], key: str, where: str, file: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"'{key}' must be a non-empty string", file=file, key=where)
    return value


def _nub(raw: Mapping[str, Any], where: str, file: str) -> NubSpec:
    table = raw.get("nub")
    if not isinstance(table, Mapping) or not isinstance(table.get("class"), str):
        raise ScenarioError("a plug event needs [event.nub] with a 'class'", file=file,
                            key=where)
    props = {key: decode_value(value, file=file, node=where, key=key)
             for key, value in table.get("properties", {}).items()}
    return NubSpec(table["class"], name=table.get("name"), location=table.get("location"),
                   properties=props)


def apply_events(host: IOKitHost, events: list[Event]) -> list[str]:
    """Apply ``events`` in order; returns one line per change, for ``iokit boot`` to print."""
    lines: list[str] = []
    for event in events:
        if event.at_ns is not None and event.at_ns > host.clock.now_ns():
            host.clock.advance_to(event.at_ns)
        lines.extend(_apply_one(host, event))
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
