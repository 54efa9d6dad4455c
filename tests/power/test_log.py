"""The sleep/wake log: JSON as ``pmset -g log --json`` prints it, durations, paths."""

from __future__ import annotations

from powerkit import add_device, events, power_host


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
