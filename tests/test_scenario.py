"""Event scenarios as user input: a damaged or inapplicable event costs only itself."""

from __future__ import annotations

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
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


scalars = st.one_of(st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(), st.text(max_size=12),
                    st.sampled_from(["plug", "unplug", "publish", "TestMac", "ARPT", "IOService",
                                     "IOPCIDevice", "pci14e4,4331@0", "IOService:/TestMac"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
event_keys = st.sampled_from(["action", "parent", "path", "resource", "at-ns", "nub", "x"])
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
    host = make_host([wifi_nub()], []).boot()
    lines = apply_events(host, parsed)
    assert len(lines) == len(parsed)


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
