"""The sleep/wake log: JSON as ``pmset -g log --json`` prints it, durations, paths."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.keys import SERVICE_PLANE
from powerkit import add_device, events, power_host

from iokit_host.power import log as log_module
from iokit_host.power.log import PowerLog
from iokit_host.power.pmset_text import render_log
from iokit_host.registry import IORegistry


def test_events_serialise_with_the_documented_keys() -> None:
    host = power_host()
    add_device(host, None, "Dev").answer = 5000
    host.sleep()
    data = host.power.log.to_json()
    assert set(data) == {"events"}
    for event in data["events"]:
        assert {"t_ms", "kind", "path", "class", "from", "to", "detail"} <= set(event)
    sleep = next(e for e in data["events"] if e["kind"] == "system-sleep")
    assert sleep["duration_ms"] == 10_100 and sleep["class"] == "IOPMrootDomain"
    assert sleep["from"] == 4 and sleep["to"] == 2


def test_an_event_under_way_is_not_shown_until_it_ends() -> None:
    host = power_host()
    add_device(host, None, "Dev").answer = 5000
    before = len(host.power.log.events())
    host.power.request_transition("sleep")
    assert host.power.log.unfinished() == 2  # the system sleep and the set_power_state
    assert len(host.power.log.events()) == before
    host.power.run_until_idle()
    assert host.power.log.unfinished() == 0
    assert [e.kind for e in host.power.log.events()[before:]][:2] == [
        "system-sleep", "set-power-state"]


def test_events_read_twice_are_the_same() -> None:
    host = power_host()
    add_device(host, None, "Dev")
    host.sleep()
    assert host.power.log.events() == host.power.log.events()
    assert events(host, "set-power-state")[0].path == "IOService:/Dev"


# -- bounded: the most recent records, the dropped ones counted -------------------------------
def test_many_sleeps_keep_the_log_bounded_and_say_what_was_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 20,000 sleep/wake pairs took 900 MB: every record was kept for good.
    monkeypatch.setattr(log_module, "MAX_LOG_RECORDS", 40)
    host = power_host()
    add_device(host, None, "Dev")
    for _ in range(30):
        host.sleep()
        host.wake()
    log = host.power.log
    read = log.read()
    assert len(log) <= 40 and read.dropped > 0 and log.unfinished() == 0
    last_wake = [e for e in read.events if e.kind == "system-wake"][-1]  # the newest kept
    assert last_wake.t_ms + (last_wake.duration_ms or 0) == host.clock.now_ns() / 1e6
    assert read.dropped_sleeps + len([e for e in read.events if e.kind == "system-sleep"]) == 30
    assert log.to_json()["dropped"] == read.dropped
    text = render_log(read.events, dropped=read.dropped,
                      dropped_sleeps=read.dropped_sleeps).splitlines()
    assert text[2] == (f"({read.dropped} earlier records dropped: the log keeps only the most "
                       "recent ones)")
    assert text[-1].endswith(" :30")  # the total counts the dropped sleeps too


def test_a_log_that_dropped_nothing_says_nothing_of_it() -> None:
    host = power_host()
    add_device(host, None, "Dev")
    host.sleep()
    assert host.power.log.read().dropped == 0
    assert "dropped" not in render_log(host.power.log.events())


def _registry() -> IORegistry:
    return IORegistry([SERVICE_PLANE])


def test_an_event_whose_slot_was_dropped_while_it_lasted_still_finishes() -> None:
    log = PowerLog(_registry(), capacity=2)
    slot = log.begin()
    for t in range(3):
        log.add(t, "request", None, "x")
    assert log.unfinished() == 1
    log.end(slot, 0, "system-sleep", None, "Software Sleep: asleep", 4, 2, 10)
    assert log.unfinished() == 0
    assert log.read().dropped_sleeps == 1
    assert [e.t_ms * 1e6 for e in log.events()] == [1, 2]


_OPS = st.lists(st.one_of(st.tuples(st.just("add"), st.booleans()),
                          st.tuples(st.just("begin"), st.booleans()),
                          st.tuples(st.just("end"), st.integers(0, 5)),
                          st.tuples(st.just("read"), st.booleans())), max_size=60)


@settings(max_examples=200, deadline=None)
@given(ops=_OPS, capacity=st.integers(1, 8))
def test_a_bounded_log_reads_as_the_last_records_of_an_unbounded_one(
        ops: list[tuple[str, Any]], capacity: int) -> None:
    bounded, whole = PowerLog(_registry(), capacity), PowerLog(_registry(), 10**9)
    opened: list[int] = []
    for op, arg in ops:
        for log in (bounded, whole):  # each event's t_ns is its slot number
            if op == "add":
                log.add(len(whole), "system-sleep" if arg else "request", None,
                        "Software Sleep: asleep")
            elif op == "begin":
                slot = log.begin()
            elif op == "end" and opened:
                t = opened[arg % len(opened)]
                log.end(t, t, "system-sleep", None, "Software Sleep: asleep", 4, 2, t + 1)
            elif op == "read":
                log.events()
        if op == "begin":
            opened.append(slot)
        elif op == "end" and opened:
            opened.remove(opened[arg % len(opened)])
    read = bounded.read()
    assert len(bounded) <= capacity and read.dropped == max(0, len(whole) - capacity)
    kept = [e for e in whole.events() if e.t_ms * 1e6 >= read.dropped]
    assert list(read.events) == kept
    sleeps = [e for e in whole.events() if e.kind == "system-sleep"]
    assert read.dropped_sleeps == len(sleeps) - len(
        [e for e in kept if e.kind == "system-sleep"])
    assert bounded.unfinished() == whole.unfinished() == len(opened)
