"""The sleep/wake log as phases of driver calls, the tardy one marked."""

from __future__ import annotations

from iokit_host.explorer.timeline import timeline


def event(t_ms: float, kind: str, cls: str | None = None, path: str | None = None,
          duration: float | None = None, detail: str = "") -> dict[str, object]:
    return {"t_ms": t_ms, "kind": kind, "class": cls, "path": path, "from": 1, "to": 0,
            "detail": detail, "duration_ms": duration}


def test_calls_group_under_their_transition_and_the_late_one_is_tardy() -> None:
    log = [event(0, "set-power-state", "Boot", "IOService:/B", 0),
           event(0, "system-sleep", None, None, 10_100, "sleep (Software Sleep): asleep"),
           event(0, "set-power-state", "Slow", "IOService:/S", 10_100),
           event(10_100, "ack-timeout", "Slow", "IOService:/S", detail="timed out"),
           event(0, "set-power-state", "Quick", "IOService:/Q", 0),
           event(15_000, "system-wake", None, None, 0, "wake (Lid Open)")]
    shown = timeline(log)
    assert [p["kind"] for p in shown["phases"]] == ["boot", "system-sleep", "system-wake"]
    sleep = shown["phases"][1]
    assert [(c["class"], c["tardy"]) for c in sleep["calls"]] == [("Slow", True),
                                                                    ("Quick", False)]
    assert [m["kind"] for m in sleep["marks"]] == ["ack-timeout"]
    assert shown["tardy"] == ["IOService:/S"]
    assert shown["span_ms"] == 15_000


def test_an_empty_log_has_no_phases() -> None:
    assert timeline([]) == {"phases": [], "span_ms": 0.0, "tardy": []}


def test_odd_values_do_not_break_the_layout() -> None:
    shown = timeline([{"kind": "set-power-state", "t_ms": "soon", "duration_ms": None}])
    assert shown["phases"][0]["calls"][0]["t_ms"] == 0.0
