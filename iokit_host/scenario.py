"""Event scenarios: hot-plug and power events applied to a booted host (``--events``).

On a Mac devices arrive and leave while the system runs (hot-plug: a bus driver publishes or
terminates a nub), drivers publish resources, the system sleeps and wakes, time passes, devices
see activity and processes take power assertions. A scenario file lists such events in TOML,
in order, each optionally at a time on the host clock: ``plug``, ``unplug``, ``publish``,
``sleep``, ``wake``, ``idle`` (an idle-sleep attempt), ``advance`` (``ms`` of the host clock),
``tickle`` (activity on a service's ``path``), ``assert`` and ``release`` (a power assertion by
``name`` and ``type``); docs/lifecycle.md documents the format.

A scenario is user input: a damaged event is reported (file, ``event[N]``, key, reason) and
skipped, and an event that cannot be applied (an unplug of a path that is not there) is
reported when its turn comes; the others still run. Only a file that cannot be read at all
refuses the whole scenario.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iokit_host.errors import Diagnostic, IOKitError, Severity, quoted
from iokit_host.input_file import decode_text, read_input_file, undecodable_place
from iokit_host.machine.model import NubSpec
from iokit_host.machine.values import decode_value
from iokit_host.power.assertions import ASSERTION_TYPES
from iokit_host.toml_keys import deep_key_reason

if TYPE_CHECKING:
    from iokit_host.host import IOKitHost
    from iokit_host.power.rootdomain import Transition

__all__ = ["MAX_AT_NS", "Event", "ScenarioError", "apply_events", "events_from_tables", "load_tables", "read_events"]

#: The host clock counts nanoseconds in 64 bits, as ``mach_absolute_time`` does.
MAX_AT_NS = (1 << 64) - 1
#: Largest scenario file read; a scenario of a million events is a few tens of megabytes.
MAX_SCENARIO_BYTES = 64 << 20
#: The longest ``advance``: the whole 64-bit clock, in milliseconds.
MAX_ADVANCE_MS = MAX_AT_NS // 1_000_000
_MAX_NAME = 128
_MAX_STATE = 0xFFFF_FFFF
Report = Callable[[Diagnostic], None]


class ScenarioError(IOKitError):
    reference = "scenario-invalid"


#: The hint of a damaged event whose reader gave none of its own.
_SKIPPED_HINT = ("this event is skipped and the others still run; docs/lifecycle.md lists "
                 "each action's keys")


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


def read_events(path: str | Path, *, report: Report | None = None) -> list[Event]:
    """The events of scenario file ``path``, in order.

    :param report: where a damaged event's diagnostic goes; that event is then skipped and
        the rest are read. Without it the first damaged event raises :class:`ScenarioError`.
    :raises ScenarioError: the file cannot be read or is not a scenario at all.
    """
    return events_from_tables(load_tables(path), file=str(path), report=report)


def load_tables(path: str | Path) -> list[Any]:
    """The file's ``[[event]]`` tables as TOML gives them, not yet checked one by one.

    :raises ScenarioError: the file cannot be read or is not a scenario at all.
    """
    raw_events = _load(path).get("event", [])
    if not isinstance(raw_events, list):
        raise ScenarioError("'event' must be an array of tables ([[event]])", file=str(path),
                            hint="write each event as a [[event]] table")
    return raw_events


def events_from_tables(raw_events: list[Any], *, file: str,
                       report: Report | None = None, first: int = 0) -> list[Event]:
    """Each table checked and read as an :class:`Event` (see :func:`read_events`); a running
    kernel reads the tables ``iokit event`` sends it with the same checks.

    :param first: the file position of ``raw_events[0]`` (``iokit event`` sends a long
        scenario in parts), so every diagnostic names ``event[N]`` as the file numbers it.
    """
    events = []
    for index, raw in enumerate(raw_events, start=first):
        if raw is None:  # a slot ``iokit event`` could not send, and reported itself
            continue
        try:
            events.append(replace(_event(raw, f"event[{index}]", file), index=index))
        except ScenarioError as error:
            if report is None:
                raise
            found = error.diagnostic
            report(found if found.hint else replace(found, hint=_SKIPPED_HINT))
    return events


def _load(path: str | Path) -> dict[str, Any]:
    try:
        data = read_input_file(path, limit=MAX_SCENARIO_BYTES)
    except OSError as error:
        raise ScenarioError(f"cannot read scenario: {error.strerror or error}", file=str(path),
                            hint="a scenario is a UTF-8 TOML file of [[event]] tables"
                            ) from error
    try:
        text = decode_text(data)
        deep = deep_key_reason(text)  # before tomllib, quadratic in a key's parts
        if deep is not None:
            raise ScenarioError(f"cannot read scenario: {deep}", file=str(path),
                                hint="a scenario is a UTF-8 TOML file of [[event]] tables")
        return tomllib.loads(text)
    except UnicodeDecodeError as error:
        raise ScenarioError(f"cannot read scenario: {undecodable_place(data, error)}",
                            file=str(path), hint="save the scenario as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"cannot read scenario: {error}", file=str(path),
                            hint="a scenario is a UTF-8 TOML file of [[event]] tables"
                            ) from error
    except RecursionError:  # tomllib reads inline arrays and tables by recursion
        raise ScenarioError("cannot read scenario: its arrays or tables nest too deep to "
                            "parse", file=str(path), hint="values nest a few levels at "
                            "most") from None
    except ValueError as error:  # an integer past tomllib's limits
        raise ScenarioError(f"cannot read scenario: {type(error).__name__}: {error}",
                            file=str(path), hint="values nest a few levels at most, and "
                            "numbers fit in 64 bits") from error


def _event(raw: object, where: str, file: str) -> Event:
    if not isinstance(raw, Mapping):
        raise ScenarioError("an event must be a table", file=file, key=where)
    action = raw.get("action")
    if not isinstance(action, str) or action not in _READERS:
        raise ScenarioError(f"action must be one of {', '.join(_READERS)}{_given(raw, 'action')}",
                            file=file, key=f"{where}.action")
    at_ns = _at_ns(raw, where, file)
    return _READERS[action](raw, where, file, at_ns)


def _at_ns(raw: Mapping[str, Any], where: str, file: str) -> int | None:
    value = raw.get("at-ns")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AT_NS:
        raise ScenarioError(f"'at-ns' must be a whole number of nanoseconds from 0 to 2**64-1, "
                            f"not {quoted(value)}", file=file, key=f"{where}.at-ns")
    return value


def _plug(raw: Mapping[str, Any], where: str, file: str, at_ns: int | None) -> Event:
    return Event("plug", _text(raw, "parent", where, file), _nub(raw, where, file), at_ns=at_ns)


def _unplug(raw: Mapping[str, Any], where: str, file: str, at_ns: int | None) -> Event:
    return Event("unplug", _text(raw, "path", where, file), at_ns=at_ns)


def _publish(raw: Mapping[str, Any], where: str, file: str, at_ns: int | None) -> Event:
    return Event("publish", resource=_text(raw, "resource", where, file), at_ns=at_ns)


def _system(action: str) -> Callable[[Mapping[str, Any], str, str, int | None], Event]:
    """A reader of ``sleep``, ``wake`` or ``idle``: an optional ``reason`` for the log."""
    def read(raw: Mapping[str, Any], where: str, file: str, at_ns: int | None) -> Event:
        return Event(action, reason=_text(raw, "reason", where, file, optional=True),
                     at_ns=at_ns)
    return read


def _advance(raw: Mapping[str, Any], where: str, file: str, at_ns: int | None) -> Event:
    value = raw.get("ms")
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not (math.isfinite(value) and 0 <= value <= MAX_ADVANCE_MS):
        raise ScenarioError(f"'ms' must be milliseconds from 0 to {MAX_ADVANCE_MS}"
                            f"{_given(raw, 'ms')}", file=file, key=f"{where}.ms",
                            hint="advance moves the host clock: ms = 100")
    return Event("advance", ms=value, at_ns=at_ns)


def _tickle(raw: Mapping[str, Any], where: str, file: str, at_ns: int | None) -> Event:
    state = raw.get("state")
    if state is not None and (isinstance(state, bool) or not isinstance(state, int)
                              or not 0 <= state <= _MAX_STATE):
        raise ScenarioError(f"'state' must be a power-state ordinal, not {quoted(state)}", file=file,
                            key=f"{where}.state", hint="leave it out for the highest state")
    return Event("tickle", _text(raw, "path", where, file), state=state, at_ns=at_ns)


def _assertion(action: str) -> Callable[[Mapping[str, Any], str, str, int | None], Event]:
    """A reader of ``assert`` or ``release``: ``name`` and ``type``; ``assert`` also takes
    ``level`` (255 on, 0 off), ``owner`` and ``pid``, as ``IOPMAssertionCreateWithName``."""
    def read(raw: Mapping[str, Any], where: str, file: str, at_ns: int | None) -> Event:
        name = _text(raw, "name", where, file)
        assert name is not None
        if len(name) > _MAX_NAME:
            raise ScenarioError(f"'name' is at most {_MAX_NAME} characters", file=file,
                                key=f"{where}.name")
        kind = raw.get("type")
        if kind not in ASSERTION_TYPES:
            raise ScenarioError(f"'type' must be an assertion type{_given(raw, 'type')}", file=file,
                                key=f"{where}.type", hint=f"one of: {', '.join(ASSERTION_TYPES)}")
        if action == "release":
            return Event(action, name=name, assertion_type=kind, at_ns=at_ns)
        level, pid = raw.get("level", 255), raw.get("pid", 0)
        if level not in (0, 255) or isinstance(level, bool):
            raise ScenarioError(f"'level' is 255 (on) or 0 (off), not {quoted(level)}", file=file,
                                key=f"{where}.level")
        if isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid < 2**31:
            raise ScenarioError(f"'pid' must be a process id, not {quoted(pid)}", file=file,
                                key=f"{where}.pid")
        owner = _text(raw, "owner", where, file, optional=True) or "iokit"
        return Event(action, name=name, assertion_type=kind, level=int(level), owner=owner,
                     pid=pid, at_ns=at_ns)
    return read


_READERS = {"plug": _plug, "unplug": _unplug, "publish": _publish, "sleep": _system("sleep"),
            "wake": _system("wake"), "idle": _system("idle"), "advance": _advance,
            "tickle": _tickle, "assert": _assertion("assert"),
            "release": _assertion("release")}


def _given(raw: Mapping[str, Any], key: str) -> str:
    """The end of a message about ``key``: the value it was given, or that it was not given."""
    return f", not {quoted(raw[key])}" if key in raw else "; it is missing"


def _text(raw: Mapping[str, Any], key: str, where: str, file: str, *,
          optional: bool = False) -> str | None:
    value = raw.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"'{key}' must be a non-empty string{_given(raw, key)}", file=file,
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
    for position, event in enumerate(events):
        index = event.index if event.index is not None else position
        reach(host, event)
        try:
            lines.extend(_apply_one(host, event))
        except IOKitError as error:
            message = error.diagnostic.message
            lines.append(f"[t={host.clock.now_ns()}ns] skipped {event.action}: {message}")
            host.kernel.report(Diagnostic(
                "scenario-event-failed", f"{event.action} event {index}: {message}",
                subject=event.target or event.resource or event.name,
                hint=error.diagnostic.hint or _HINTS.get(event.action, _HINTS["plug"]),
                severity=Severity.WARNING))
    return lines


def reach(host: IOKitHost, event: Event) -> None:
    """Move the host clock to the event's ``at`` time, when it has one still ahead."""
    if event.at_ns is not None and event.at_ns > host.clock.now_ns():
        host.clock.advance_to(event.at_ns)
        host.power.advance(0)  # the PM work the timers on the way started, done


_HINTS = {
    "plug": "name the nub by a registry path or a name `iokit ioreg` shows",
    "tickle": "tickle a power-managed service (one `iokit ioreg -p IOPower` shows) by its "
              "registry path or name",
    "assert": "see `iokit pmset -g assertions` for the assertions a scenario holds",
    "release": "release an assertion an earlier assert event created, by its name and type",
}


def _apply_one(host: IOKitHost, event: Event) -> list[str]:
    at = f"[t={host.clock.now_ns()}ns]"
    power = _POWER_APPLIERS.get(event.action)
    if power is not None:
        return [f"{at} {power(host, event)}"]
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


# -- power events -----------------------------------------------------------------------------
#: Each system transition an event asks for: the power manager's name for it, the reason it
#: gives by default (pmset's), and how its line names it.
SYSTEM_TRANSITIONS = {"sleep": ("sleep", "Software Sleep", "sleep"),
                      "wake": ("wake", "User Activity", "wake"),
                      "idle": ("idle", "Idle Sleep", "idle sleep")}


def request_transition(host: IOKitHost, event: Event) -> tuple[Transition, str]:
    """Ask for the system transition of a ``sleep``, ``wake`` or ``idle`` event, run as far
    as it goes without moving the clock; with the start of its line (``transition_line``)."""
    kind, default, label = SYSTEM_TRANSITIONS[event.action]
    reason = event.reason or default
    return host.power.request_transition(kind, reason), f"{label} ({reason})"


def _system_transition(host: IOKitHost, event: Event) -> str:
    transition, label = request_transition(host, event)
    host.power.run_until_idle()  # to its end: late answers are waited for on the host clock
    return f"{label}: {transition.result}"


def _advance_clock(host: IOKitHost, event: Event) -> str:
    assert event.ms is not None
    host.advance(event.ms)
    return f"advanced {event.ms:g} ms to t={host.clock.now_ns()}ns"


def _tickle_service(host: IOKitHost, event: Event) -> str:
    assert event.target is not None
    service = host.find(event.target)
    if service is None:
        raise ScenarioError(f"no service {quoted(event.target)} in the IOService plane",
                            key=event.target)
    pm = host.power.pm_of(service)
    if pm is None or pm.table is None:
        raise ScenarioError(f"{event.target} is not power managed (no power-state table)",
                            key=event.target)
    host.power.tickle(service, event.state)
    return (f"tickled {host.path_of(service)}: {service.iokit_class_name} in state "
            f"{host.power.power_state(service)}")


def _assert(host: IOKitHost, event: Event) -> str:
    assert event.assertion_type is not None and event.name is not None
    created = host.power.create_assertion(event.assertion_type, event.name, level=event.level,
                                          owner=event.owner, pid=event.pid)
    return (f'asserted {created.type} "{created.name}" '
            f"[0x{created.assertion_id:016x}] level {created.level}")


def _release(host: IOKitHost, event: Event) -> str:
    held = [a for a in host.power.assertions.active()
            if a.name == event.name and a.type == event.assertion_type]
    if not held:
        raise ScenarioError(f'no {event.assertion_type} assertion named "{event.name}" is held',
                            key=event.name)
    host.power.release_assertion(held[-1].assertion_id)
    return f'released {held[-1].type} "{held[-1].name}" [0x{held[-1].assertion_id:016x}]'


_POWER_APPLIERS: dict[str, Callable[[IOKitHost, Event], str]] = {
    "sleep": _system_transition, "wake": _system_transition, "idle": _system_transition,
    "advance": _advance_clock,
    "tickle": _tickle_service, "assert": _assert, "release": _release}
