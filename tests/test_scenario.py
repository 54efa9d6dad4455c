"""Event scenarios as user input: a damaged or inapplicable event costs only itself."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hostkit import make_host, wifi_nub
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iokit_host.errors import Diagnostic
from iokit_host.scenario import Event, ScenarioError, apply_events, read_events

GOOD_PLUG = """
[[event]]
action = "plug"
parent = "TestMac"
[event.nub]
class = "IOPCIDevice"
name = "pci8086,1"
location = "1"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "events.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("damage", "key"), [
    ('action = "plug"\nparent = "TestMac"\n', "event[0].nub"),
    ('action = "plugg"\n', "event[0].action"),
    ('action = "unplug"\npath = 7\n', "event[0].path"),
    ('action = "publish"\nresource = "R"\nat-ns = "soon"\n', "event[0].at-ns"),
    ('action = "publish"\nresource = "R"\nat-ns = -1\n', "event[0].at-ns"),
    ('action = "plug"\nparent = "TestMac"\nnub = { class = "IOService", properties = [1] }\n',
     "event[0].nub.properties"),
    ('action = "plug"\nparent = "TestMac"\nnub = { class = "IOService", name = 3 }\n',
     "event[0].nub.name"),
    ('action = "sleep"\nreson = "lid"\n', "event[0].reson"),  # a key sleep does not take
    ('action = "plug"\nparent = "TestMac"\nnub = { class = "IOService", propertes = {} }\n',
     "event[0].nub.propertes"),
])
def test_a_damaged_event_is_reported_and_the_rest_are_read(tmp_path: Path, damage: str,
                                                           key: str) -> None:
    path = write(tmp_path, "[[event]]\n" + damage + GOOD_PLUG)
    reported: list[Diagnostic] = []
    events = read_events(path, report=reported.append)
    assert [e.action for e in events] == ["plug"]
    assert [(d.reference, d.file, d.key) for d in reported] == [
        ("scenario-invalid", str(path), key)]
    with pytest.raises(ScenarioError):
        read_events(path)


@pytest.mark.parametrize(("text", "said", "hint"), [
    ('action = "tickle"\npath = "Keys"\nstat = 2\n', ("unknown key 'stat'; tickle takes "
     "action, at-ns, path, state"), "did you mean 'state'?"),
    ('action = "unplug"\npaht = "ARPT"\n', ("unknown key 'paht'; unplug takes action, at-ns, "
     "path"), "did you mean 'path'?"),
    ('action = "wake"\nwhy = "lid"\n', "unknown key 'why'; wake takes action, at-ns, reason",
     "this event is skipped"),
])
def test_a_key_the_action_does_not_take_is_named_not_dropped(tmp_path: Path, text: str,
                                                             said: str, hint: str) -> None:
    """A misspelt optional key would otherwise leave the event to run without it (a tickle
    to the highest state instead of state 2): the event is refused, and the key named."""
    reported: list[Diagnostic] = []
    assert read_events(write(tmp_path, "[[event]]\n" + text), report=reported.append) == []
    (found,) = reported
    assert said in found.message and found.hint is not None and hint in found.hint


@pytest.mark.parametrize(("text", "key", "hint"), [
    ('[[events]]\naction = "sleep"\n', "events", "did you mean 'event'?"),
    ('[[event]]\naction = "sleep"\n[[evnet]]\naction = "wake"\n', "evnet",
     "did you mean 'event'?"),
    ('title = "nightly"\n', "title", "a scenario holds only [[event]] tables"),
])
def test_a_table_that_is_not_event_is_refused_not_ignored(tmp_path: Path, text: str, key: str,
                                                         hint: str) -> None:
    """A misspelt [[events]] ran no event at all, without a word."""
    with pytest.raises(ScenarioError) as caught:
        read_events(write(tmp_path, text))
    assert caught.value.diagnostic.key == key and caught.value.diagnostic.hint == hint


@pytest.mark.parametrize("text", [
    "event = 3\n", "[[event\n", "a = " + "[" * 3000 + "]" * 3000 + "\n",
    "a = 1" + "0" * 5000 + "\n"])
def test_an_unreadable_scenario_is_one_clear_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ScenarioError, match="scenario") as caught:
        read_events(write(tmp_path, text))
    assert caught.value.diagnostic.file is not None


def test_an_event_that_cannot_be_applied_is_reported_and_the_next_one_runs() -> None:
    host = make_host([wifi_nub()], []).boot()
    lines = apply_events(host, [Event("unplug", "NoSuchNub"), Event("publish", resource="R")])
    assert lines[0].startswith("[t=0ns] skipped unplug:")
    assert lines[1] == "[t=0ns] published R: started nothing"
    failed = [d for d in host.diagnostics if d.reference == "scenario-event-failed"]
    assert len(failed) == 1 and failed[0].subject == "NoSuchNub"


def test_an_event_that_fails_after_a_damaged_one_is_named_by_its_place_in_the_file(
        tmp_path: Path) -> None:
    # The damaged event[0] was skipped, and the failing unplug was called "event 0".
    reported: list[Diagnostic] = []
    events = read_events(write(tmp_path, '[[event]]\naction = 5\n[[event]]\n'
                               'action = "unplug"\npath = "NoSuchNub"\n'),
                         report=reported.append)
    assert [d.key for d in reported] == ["event[0].action"]
    host = make_host([wifi_nub()], []).boot()
    apply_events(host, events)
    (failed,) = [d for d in host.diagnostics if d.reference == "scenario-event-failed"]
    assert failed.message.startswith("unplug event 1:")


def test_iokit_boot_applies_the_good_events_of_a_damaged_scenario(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from iokit_host.cli import main

    plug_under_the_default_root = GOOD_PLUG.replace("TestMac", "MacBookPro8,2")
    path = write(tmp_path, "[[event]]\naction = 5\n" + plug_under_the_default_root)
    assert main(["boot", "--events", str(path)]) == 0
    captured = capsys.readouterr()
    assert "plugged IOService:/" in captured.out
    assert "event[0].action" in captured.err and "Traceback" not in captured.err


# -- hypothesis: whatever the file holds, only our own diagnostics -----------------------------
def toml_value(value: Any) -> str:
    """An inline TOML rendering of a generated value (the test's own writer)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") \
            if math.isinf(value) else repr(value)
    if isinstance(value, (int, str)):
        return json.dumps(value) if isinstance(value, str) else str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()  # TOML's local date, time and date-time
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


scalars = st.one_of(st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(), st.text(max_size=12), st.dates(), st.times(), st.datetimes(),
                    st.sampled_from(["plug", "unplug", "publish", "TestMac", "ARPT", "IOService",
                                     "IOPCIDevice", "pci14e4,4331@0", "IOService:/TestMac",
                                     "sleep", "wake", "idle", "advance", "tickle", "assert",
                                     "release", "PreventUserIdleSystemSleep"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
event_keys = st.sampled_from(["action", "parent", "path", "resource", "at-ns", "nub", "x", "ms",
                              "name", "type", "state", "reason", "level", "pid", "owner"])
nub_tables = st.fixed_dictionaries({}, optional={
    "class": st.one_of(st.sampled_from(["IOPCIDevice", "IOService", "NoSuchClass"]), values),
    "name": values, "location": values, "properties": values})
events = st.lists(st.dictionaries(event_keys, st.one_of(values, nub_tables), max_size=5),
                  max_size=5)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=events)
def test_any_scenario_reads_and_applies_with_only_our_diagnostics(
        tmp_path: Path, raw: list[dict[str, Any]]) -> None:
    text = "".join("[[event]]\n" + "".join(f"{json.dumps(k)} = {toml_value(v)}\n"
                                           for k, v in table.items()) for table in raw)
    path = write(tmp_path, text)
    reported: list[Diagnostic] = []
    try:
        parsed = read_events(path, report=reported.append)
    except ScenarioError:
        return
    assert len(parsed) + len(reported) == len(raw)
    # each says what to do, and quotes what it read briefly
    assert all(d.hint and len(str(d)) < 600 for d in reported), reported
    # no date or time reaches an event (IOKit has no date value): each is refused, named
    assert not any(isinstance(value, (datetime.date, datetime.time))
                   for event in parsed for value in _event_values(event)), parsed
    host = make_host([wifi_nub()], []).boot()
    lines = apply_events(host, parsed)
    assert len(lines) == len(parsed)


def _event_values(event: Event) -> list[Any]:
    """Every value an event holds, its nub's properties through every level."""
    found: list[Any] = [getattr(event, name) for name in Event.__slots__]
    stack = list(event.nub.properties.values()) if event.nub is not None else []
    while stack:
        value = stack.pop()
        found.append(value)
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, frozenset)):
            stack.extend(value)
    return found


@pytest.mark.parametrize(("value", "words"), [
    ("1979-05-27T07:32:00Z", "a TOML date-time (1979-05-27T07:32:00+00:00)"),
    ("1979-05-27", "a TOML date (1979-05-27)"), ("07:32:00", "a TOML time (07:32:00)")])
def test_a_toml_date_anywhere_in_an_event_is_refused_by_its_key(tmp_path: Path, value: str,
                                                                words: str) -> None:
    # A date property was refused, but by the table ("event[0].nub.properties"), not its key
    path = write(tmp_path, f"""
[[event]]
action = "plug"
parent = "IOService:/"
[event.nub]
class = "IOService"
[event.nub.properties]
list = [1, {{ when = {value} }}]

[[event]]
action = "sleep"
""")
    reported: list[Diagnostic] = []
    assert [e.action for e in read_events(path, report=reported.append)] == ["sleep"]
    (refused,) = reported
    assert refused.key == "event[0].nub.properties.list[1].when"
    assert refused.message == f"{words} is not a value an event takes"
    assert refused.file == str(path) and refused.hint


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_any_bytes_as_a_scenario_are_read_or_refused_clearly(tmp_path: Path,
                                                             data: bytes) -> None:
    path = tmp_path / "events.toml"
    path.write_bytes(data)
    try:
        read_events(path, report=lambda _: None)
    except ScenarioError as error:
        assert error.diagnostic.file == str(path)


# -- power events: sleep, wake, idle, advance, tickle, assert, release ------------------------
POWER = """
[[event]]
action = "assert"
name = "copying files"
type = "PreventUserIdleSystemSleep"
pid = 314
owner = "cp"

[[event]]
action = "idle"

[[event]]
action = "release"
name = "copying files"
type = "PreventUserIdleSystemSleep"

[[event]]
action = "idle"
reason = "Idle Sleep"

[[event]]
action = "wake"
reason = "Lid Open"
at-ns = 2000000000

[[event]]
action = "advance"
ms = 2500

[[event]]
action = "tickle"
path = "Keys"
"""


def test_power_events_are_read_with_their_fields(tmp_path: Path) -> None:
    events = read_events(write(tmp_path, POWER + '[[event]]\naction = "sleep"\n'))
    assert [e.action for e in events] == ["assert", "idle", "release", "idle", "wake",
                                         "advance", "tickle", "sleep"]
    held = events[0]
    assert (held.name, held.assertion_type, held.pid, held.owner, held.level) == (
        "copying files", "PreventUserIdleSystemSleep", 314, "cp", 255)
    assert (events[4].reason, events[4].at_ns) == ("Lid Open", 2_000_000_000)
    assert events[5].ms == 2500 and events[6].target == "Keys" and events[6].state is None


def test_power_events_drive_the_hosts_power_and_print_one_line_each(tmp_path: Path) -> None:
    from powerkit import add_device, power_host

    host = power_host()
    keys = add_device(host, None, "Keys", want=0)  # up only while used: idle timer, tickles
    keys.set_idle_timer_period(1)
    then_idle = '[[event]]\naction = "advance"\nms = 2500\n'
    lines = apply_events(host, read_events(write(tmp_path, POWER + then_idle)))
    assert lines == [
        ('[t=0ns] asserted PreventUserIdleSystemSleep "copying files" [0x0000013a00010001] '
         "level 255"),
        "[t=0ns] idle sleep (Idle Sleep): prevented",
        '[t=0ns] released PreventUserIdleSystemSleep "copying files" [0x0000013a00010001]',
        "[t=0ns] idle sleep (Idle Sleep): asleep",
        "[t=2000000000ns] wake (Lid Open): awake",
        "[t=2000000000ns] advanced 2500 ms to t=4500000000ns",
        "[t=4500000000ns] tickled IOService:/Keys: PMDevice in state 2",
        "[t=4500000000ns] advanced 2500 ms to t=7000000000ns"]
    drops = [e for e in host.power.log.events() if e.kind == "idle-drop"]
    assert [(e.t_ms, e.from_state, e.to_state) for e in drops] == [(5500, 2, 1), (6500, 1, 0)]
    assert keys.get_power_state() == 0 and not host.diagnostics


@pytest.mark.parametrize(("damage", "key"), [
    ('action = "advance"\n', "event[0].ms"),
    ('action = "advance"\nms = -1\n', "event[0].ms"),
    ('action = "advance"\nms = nan\n', "event[0].ms"),
    ('action = "advance"\nms = "soon"\n', "event[0].ms"),
    ('action = "tickle"\n', "event[0].path"),
    ('action = "tickle"\npath = "Keys"\nstate = -1\n', "event[0].state"),
    ('action = "sleep"\nreason = 3\n', "event[0].reason"),
    ('action = "assert"\ntype = "PreventSystemSleep"\n', "event[0].name"),
    ('action = "assert"\nname = "x"\ntype = "PreventEverything"\n', "event[0].type"),
    ('action = "assert"\nname = "x"\ntype = "PreventSystemSleep"\nlevel = 100\n',
     "event[0].level"),
    ('action = "assert"\nname = "x"\ntype = "PreventSystemSleep"\npid = -4\n', "event[0].pid"),
    ('action = "release"\nname = "x"\n', "event[0].type"),
])
def test_a_damaged_power_event_is_reported_and_the_rest_are_read(tmp_path: Path, damage: str,
                                                                 key: str) -> None:
    path = write(tmp_path, "[[event]]\n" + damage + '[[event]]\naction = "sleep"\n')
    reported: list[Diagnostic] = []
    assert [e.action for e in read_events(path, report=reported.append)] == ["sleep"]
    assert [(d.reference, d.key) for d in reported] == [("scenario-invalid", key)]


def test_power_events_that_cannot_be_applied_are_reported_and_the_next_one_runs() -> None:
    host = make_host([wifi_nub()], []).boot()
    lines = apply_events(host, [
        Event("tickle", "pci14e4,4331@0"), Event("tickle", "Nowhere"),
        Event("release", name="never", assertion_type="PreventSystemSleep"),
        Event("sleep")])
    assert lines[0] == ("[t=0ns] skipped tickle: pci14e4,4331@0 is not power managed (no "
                        "power-state table)")
    assert lines[1].startswith("[t=0ns] skipped tickle: no service 'Nowhere'")
    assert lines[2] == ('[t=0ns] skipped release: no PreventSystemSleep assertion named '
                        '"never" is held')
    assert lines[3] == "[t=0ns] sleep (Software Sleep): asleep"
    failed = [d for d in host.diagnostics if d.reference == "scenario-event-failed"]
    assert [d.subject for d in failed] == ["pci14e4,4331@0", "Nowhere", "never"]
    assert "power-managed" in (failed[0].hint or "")


_ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=6)
_POWER_ACTIONS = st.sampled_from(["sleep", "wake", "idle", "advance", "tickle", "assert",
                                  "release", "bogus"])
_POWER_FIELDS = st.fixed_dictionaries({"action": _POWER_ACTIONS}, optional={
    "ms": st.one_of(st.integers(-5, 40_000), st.floats(allow_nan=True), _ASCII,
                    st.integers(18_446_744_073_000, 18_446_744_073_709)),  # the clock's end
    "path": st.sampled_from(["Keys", "Disk", "IOService:/Keys", "Nowhere", "", "IOService:/"]),
    "state": st.one_of(st.integers(-2, 4), st.booleans()),
    "name": st.sampled_from(["a", "b", "", "x" * 200]),
    "type": st.sampled_from(["PreventUserIdleSystemSleep", "PreventSystemSleep",
                             "NoIdleSleepAssertion", "PreventUserIdleDisplaySleep", "Nope"]),
    "level": st.sampled_from([0, 255, 7, True]),
    "pid": st.one_of(st.integers(-1, 2**32), _ASCII),
    "reason": st.one_of(_ASCII, st.integers()),
    "at-ns": st.one_of(st.integers(-1, 60_000_000_000),
                       st.integers(2**64 - 100_000_000_000, 2**64 - 1)),
})


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.lists(_POWER_FIELDS, max_size=12))
def test_any_power_event_file_runs_to_the_end_with_only_our_diagnostics(
        tmp_path: Path, raw: list[dict[str, Any]]) -> None:
    from powerkit import add_device, power_host

    text = "".join("[[event]]\n" + "".join(f"{json.dumps(k)} = {toml_value(v)}\n"
                                           for k, v in table.items()) for table in raw)
    reported: list[Diagnostic] = []
    parsed = read_events(write(tmp_path, text), report=reported.append)
    assert len(parsed) + len(reported) == len(raw)
    assert {d.reference for d in reported} <= {"scenario-invalid"}
    host = power_host()
    disk = add_device(host, None, "Disk")
    add_device(host, disk, "Keys").set_idle_timer_period(2)
    host.diagnostics.clear()
    lines = apply_events(host, parsed)
    assert len(lines) == len(parsed)
    assert {d.reference for d in host.diagnostics} <= {"scenario-event-failed"}
    assert host.clock.now_ns() <= 2**64 - 1  # mach_absolute_time's 64 bits
    log = host.power.log
    assert log.unfinished() == 0
    times = [e.t_ms for e in log.events()]
    assert times == sorted(times)
    if not host.power.asleep:  # awake: every device back at what it asks for
        assert disk.get_power_state() == 2


def test_advances_past_the_end_of_the_clock_are_skipped_with_their_reason(
        tmp_path: Path) -> None:
    # Two long advances took the clock past 2**64 ns (the log printed the year 3723).
    path = write(tmp_path, """
[[event]]
action = "advance"
ms = 18446744073709
[[event]]
action = "advance"
ms = 18446744073709
[[event]]
action = "sleep"
""")
    host = make_host([wifi_nub()], []).boot()
    lines = apply_events(host, read_events(path))
    assert host.clock.now_ns() <= 2**64 - 1
    assert lines[1].startswith("[t=18446744073709000000ns] skipped advance: the host clock "
                               "would pass 2**64-1 ns")
    failed = [d for d in host.diagnostics if d.reference == "scenario-event-failed"]
    assert [d.message.split(":")[0] for d in failed] == ["advance event 1"]
    assert "sleep (Software Sleep)" in lines[2]


def test_a_scenario_saved_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    # Windows editors start UTF-8 files with one; tomllib refused the whole scenario.
    path = tmp_path / "events.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_PLUG.encode())
    (event,) = read_events(path)
    assert event.action == "plug" and event.target == "TestMac"


def test_unplugging_the_machine_is_an_event_that_fails_with_its_reason() -> None:
    host = make_host([wifi_nub()], []).boot()
    lines = apply_events(host, [Event("unplug", "IOService:/"), Event("publish", resource="R")])
    assert "skipped unplug: TestMac (IOPlatformExpertDevice) is the machine" in lines[0]
    assert lines[1] == "[t=0ns] published R: started nothing"
    (failed,) = [d for d in host.diagnostics if d.reference == "scenario-event-failed"]
    assert failed.hint is not None and "below the platform expert" in failed.hint


def test_plugging_a_plain_registry_entry_is_an_event_that_fails_with_its_reason() -> None:
    from iokit_host.machine.model import NubSpec

    host = make_host([wifi_nub()], []).boot()
    lines = apply_events(host, [Event("plug", "TestMac", NubSpec("IORegistryEntry")),
                                Event("publish", resource="R")])
    assert "skipped plug: IORegistryEntry is not an IOService class" in lines[0]
    assert lines[1] == "[t=0ns] published R: started nothing"


def test_a_scenario_saved_as_utf16_reads(tmp_path: Path) -> None:
    path = tmp_path / "events.toml"
    path.write_bytes(GOOD_PLUG.encode("utf-16"))
    (event,) = read_events(path)
    assert event.action == "plug"


def test_a_byte_that_is_not_utf8_is_named_by_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "events.toml"
    path.write_bytes(b'[[event]]\naction = "publish"\nresource = "R\xe9"\n')
    with pytest.raises(ScenarioError, match=r"byte 0xe9 at line 3, column 14") as caught:
        read_events(path)
    assert "codec" not in str(caught.value) and caught.value.diagnostic.hint


def test_a_damaged_event_has_a_hint_and_quotes_a_huge_value_briefly(tmp_path: Path) -> None:
    # "action must be one of ..., not '<5 MB>'", and no hint at all.
    huge = "x" * 5_000_000
    path = write(tmp_path, f'[[event]]\naction = "{huge}"\n[[event]]\naction = "publish"\n'
                           'resource = "Radio"\n')
    reported: list[Diagnostic] = []
    (event,) = read_events(path, report=reported.append)
    assert event.action == "publish"
    (problem,) = reported
    assert problem.key == "event[0].action" and problem.hint and len(str(problem)) < 400


@pytest.mark.parametrize(("text", "key", "said"), [
    ('action = "advance"\n', "event[0].ms", "'ms' must be milliseconds from 0 to "),
    ('ms = 5\n', "event[0].action", "action must be one of plug, "),
    ('action = "unplug"\n', "event[0].path", "'path' must be a non-empty string"),
    ('action = "assert"\nname = "n"\n', "event[0].type", "'type' must be an assertion type")])
def test_a_missing_key_is_said_to_be_missing(tmp_path: Path, text: str, key: str,
                                             said: str) -> None:
    reported: list[Diagnostic] = []
    assert read_events(write(tmp_path, "[[event]]\n" + text), report=reported.append) == []
    (problem,) = reported
    assert problem.key == key
    assert said in problem.message and problem.message.endswith("; it is missing")


@pytest.mark.parametrize(("nub", "key"), [
    ('name = "a\\u0000b"', "event[0].nub.name"),
    ('class = "IO\\u0000Service"', "event[0].nub.class"),
    ('[event.nub.properties]\n"k\\u0000" = 1', "event[0].nub.properties"),
])
def test_a_nul_in_a_plugged_nubs_name_or_key_damages_that_event_alone(
        tmp_path: Path, nub: str, key: str) -> None:
    # Names and keys are C strings: a driver's set_name refuses a NUL, and a NUL key reached
    # the kernel as a request it failed ('kernel-request-failed: this is a bug').
    table = {"name": 'name = "ok"', "class": 'class = "IOService"'}
    head = "\n".join(line for field, line in table.items() if field not in nub)
    text = (f'[[event]]\naction = "plug"\nparent = "Mac"\n[event.nub]\n{head}\n{nub}\n'
            '[[event]]\naction = "publish"\nresource = "Radio"\n')
    reported: list[Diagnostic] = []
    (event,) = read_events(write(tmp_path, text), report=reported.append)
    assert event.action == "publish"
    (problem,) = reported
    assert problem.key is not None and problem.key.startswith(key), problem
    assert "NUL" in problem.message


def test_a_wrong_value_is_quoted(tmp_path: Path) -> None:
    reported: list[Diagnostic] = []
    read_events(write(tmp_path, '[[event]]\naction = "advance"\nms = "soon"\n'),
                report=reported.append)
    assert reported[0].message.endswith(", not 'soon'")
