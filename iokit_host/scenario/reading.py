"""Reading a scenario file: its ``[[event]]`` tables checked one by one into
:class:`~.events.Event` values, each damaged one reported with its ``event[N].key`` and
skipped (the others still read), as ``iokit boot --events`` and ``iokit event`` take them."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from iokit_host.errors import Diagnostic, IOKitError, did_you_mean, quoted
from iokit_host.input_file import decode_text, read_input_file, undecodable_place
from iokit_host.machine.model import NubSpec
from iokit_host.machine.values import decode_properties
from iokit_host.power.assertions import ASSERTION_TYPES
from iokit_host.scenario.datetimes import refuse_datetimes
from iokit_host.scenario.events import MAX_AT_NS, Event, ScenarioError
from iokit_host.toml_keys import deep_key_reason

__all__ = ["events_from_tables", "load_tables", "read_events"]

#: Largest scenario file read; a scenario of a million events is a few tens of megabytes.
MAX_SCENARIO_BYTES = 64 << 20
#: The longest ``advance``: the whole 64-bit clock, in milliseconds.
MAX_ADVANCE_MS = MAX_AT_NS // 1_000_000
_MAX_NAME = 128
_MAX_STATE = 0xFFFF_FFFF
Report = Callable[[Diagnostic], None]

#: The hint of a damaged event whose reader gave none of its own.
_SKIPPED_HINT = ("this event is skipped and the others still run; docs/lifecycle.md lists "
                 "each action's keys")


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
    document = _load(path)
    for key in document:
        if key != "event":  # a misspelt [[events]] would otherwise run no event at all
            raise ScenarioError(f"unknown table or key {key!r}", file=str(path), key=key,
                                hint=did_you_mean(key, ["event"])
                                or "a scenario holds only [[event]] tables")
    raw_events = document.get("event", [])
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
    refuse_datetimes(raw, where, file)  # first: ``iokit event`` checks it before sending
    action = raw.get("action")
    if not isinstance(action, str) or action not in _READERS:
        raise ScenarioError(f"action must be one of {', '.join(_READERS)}{_given(raw, 'action')}",
                            file=file, key=f"{where}.action")
    _known_keys(raw, (*_COMMON_KEYS, *_KEYS[action]), where, file, f"{action} takes")
    at_ns = _at_ns(raw, where, file)
    return _READERS[action](raw, where, file, at_ns)


def _known_keys(table: Mapping[str, Any], known: tuple[str, ...], where: str, file: str,
                takes: str) -> None:
    """Refuse a key the table's kind does not take: a misspelt optional key (``stat`` for
    ``state``) would otherwise be dropped without a word, and the event run without it."""
    for key in table:
        if key not in known:
            raise ScenarioError(f"unknown key {quoted(key)}; {takes} {', '.join(known)}",
                                file=file, key=f"{where}.{key}",
                                hint=did_you_mean(str(key), known))


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


#: The keys each action takes besides :data:`_COMMON_KEYS`.
_KEYS = {"plug": ("parent", "nub"), "unplug": ("path",), "publish": ("resource",),
         "sleep": ("reason",), "wake": ("reason",), "idle": ("reason",), "advance": ("ms",),
         "tickle": ("path", "state"), "assert": ("name", "type", "level", "owner", "pid"),
         "release": ("name", "type")}
_COMMON_KEYS = ("action", "at-ns")
_NUB_KEYS = ("class", "name", "location", "properties")
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
    if not isinstance(value, str) or not value or "\0" in value:  # names are C strings
        raise ScenarioError(f"'{key}' must be a non-empty string without NUL"
                            f"{_given(raw, key)}", file=file, key=f"{where}.{key}")
    return value


def _nub(raw: Mapping[str, Any], where: str, file: str) -> NubSpec:
    table = raw.get("nub")
    if not isinstance(table, Mapping):
        raise ScenarioError("a plug event needs an [event.nub] table", file=file,
                            key=f"{where}.nub")
    at = f"{where}.nub"
    _known_keys(table, _NUB_KEYS, at, file, "a nub takes")
    class_name = _text(table, "class", at, file)
    properties = table.get("properties", {})
    if not isinstance(properties, Mapping):
        raise ScenarioError("'properties' must be a table", file=file, key=f"{at}.properties")
    try:
        props = decode_properties(properties, file=file, node=at)
    except IOKitError as error:
        raise ScenarioError(error.diagnostic.message, file=file,
                            key=f"{at}.properties") from error
    assert class_name is not None
    return NubSpec(class_name, name=_text(table, "name", at, file, optional=True),
                   location=_text(table, "location", at, file, optional=True),
                   properties=props)
