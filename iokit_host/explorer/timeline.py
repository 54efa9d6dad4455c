"""The power view: the sleep/wake log as a timeline (who took how long, tardy drivers marked).

``pmset -g log`` lists powerd's log line by line; a developer chasing a slow sleep wants to see
it laid out in time: each system transition, each driver's power change as a bar as long as
the driver took, and the drivers that answered late (``IOPMTardyAckSetPowerState``: a ``Kernel
Client Acks`` line) marked. The events are the kernel's own log (``tool.pmset_log``); this
module only groups them: one phase per system sleep or wake, the driver calls after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["CALL_KINDS", "timeline"]

#: The events drawn as a driver's bar (each has a duration).
CALL_KINDS = frozenset({"set-power-state", "will-change", "did-change", "acknowledged"})
_SYSTEM = frozenset({"system-sleep", "system-wake"})
#: Events listed as marks on the timeline (no bar of their own).
_MARKS = frozenset({"ack-timeout", "veto", "watchdog", "fault", "idle-drop", "assertion"})


def timeline(events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"phases": [{kind, t_ms, detail, duration_ms, calls: [...], marks: [...]}],
    "span_ms", "tardy": [paths]}``; calls before the first transition form a ``boot`` phase."""
    tardy = {(e.get("path"), e.get("class")) for e in events if e.get("kind") == "ack-timeout"}
    phases: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    end = 0.0
    for event in events:
        kind = str(event.get("kind"))
        t_ms = _number(event.get("t_ms"))
        duration = event.get("duration_ms")
        end = max(end, t_ms + (_number(duration) if duration is not None else 0.0))
        if kind in _SYSTEM:
            current = {"kind": kind, "t_ms": t_ms, "detail": event.get("detail"),
                       "duration_ms": duration, "calls": [], "marks": []}
            phases.append(current)
            continue
        if current is None:
            current = {"kind": "boot", "t_ms": 0.0, "detail": "before the first sleep",
                       "duration_ms": None, "calls": [], "marks": []}
            phases.append(current)
        row = {"t_ms": t_ms, "kind": kind, "path": event.get("path"),
               "class": event.get("class"), "from": event.get("from"),
               "to": event.get("to"), "detail": event.get("detail"),
               "duration_ms": duration}
        if kind in CALL_KINDS:
            row["tardy"] = (event.get("path"), event.get("class")) in tardy and bool(duration)
            current["calls"].append(row)
        elif kind in _MARKS:
            current["marks"].append(row)
    return {"phases": phases, "span_ms": end,
            "tardy": sorted({str(path) for path, _ in tardy if path is not None})}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
