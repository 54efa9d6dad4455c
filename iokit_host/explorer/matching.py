"""The matching picture of one nub, as the seed draws it, from ``explain``'s data.

IOKit's ``probeCandidates`` offers a nub to every personality whose passive match succeeds:
each is allocated and ``init``-ed, attached and ``probe``-d (and detached), then per match
category the best score is attached and ``start``-ed, the rest lose (docs/lifecycle.md). The
picture shows the nub with the ids it was matched on, every personality that competed with its
score, the winner, and how far each one got through those steps, read from the binder's record
of each candidate (``iokit explain``), never by running anything again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iokit_sdk.entry import IORegistryEntry

from iokit_host.explorer.values import typed
from iokit_host.kernel.outcomes import Outcome

__all__ = ["ID_KEYS", "MAX_SHOWN", "STEPS", "picture"]

#: Personalities drawn at most, of those that competed (best first; a winner always) and of
#: those that did not: a kext of 20,000 personalities for one class made the matching tab
#: 7 MB and 3 seconds to draw, and the page says how many more there were.
MAX_SHOWN = 200

#: The properties families match on (PCI, USB, ACPI, device tree), shown as the nub's ids.
ID_KEYS = ("vendor-id", "device-id", "subsystem-vendor-id", "subsystem-id", "revision-id",
           "class-code", "idVendor", "idProduct", "bcdDevice", "bDeviceClass",
           "bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol", "compatible",
           "name", "IOName", "_HID", "_CID", "IONameMatched")

#: The lifecycle steps of one candidate, in IOKit's order.
STEPS = ("match", "init", "attach", "probe", "start")

_DONE, _FAILED, _SKIPPED, _WAITING = "done", "failed", "not reached", "waiting"


def _steps(outcome: str, score: int | None) -> dict[str, str]:
    """How far a candidate with ``outcome`` got: each step done, failed, waiting or not
    reached (IOKit stops a candidate at its first failed step)."""
    reached = {
        Outcome.STARTED: ("match", "init", "attach", "probe", "start"),
        Outcome.TERMINATED: ("match", "init", "attach", "probe", "start"),
        Outcome.LOST: ("match", "init", "attach", "probe"),
        Outcome.DECLINED: ("match", "init", "attach"),
        Outcome.START_FAILED: ("match", "init", "attach", "probe"),
        Outcome.PROBE_FAILED: ("match", "init", "attach"),
        Outcome.INIT_FAILED: ("match",),
        Outcome.CLASS_UNKNOWN: ("match",),
        Outcome.KEXT_FAILED: ("match",),
        Outcome.NOT_ENTITLED: ("match",),
        Outcome.CATEGORY_TAKEN: ("match",),
        Outcome.NOT_RUN: ("match",),
        Outcome.WAITING: ("match", "init", "attach", "probe") if score is not None else (),
        Outcome.NO_MATCH: (),
    }.get(outcome, ())
    failed = {Outcome.DECLINED: "probe", Outcome.START_FAILED: "start",
              Outcome.PROBE_FAILED: "probe", Outcome.INIT_FAILED: "init",
              Outcome.CLASS_UNKNOWN: "init", Outcome.KEXT_FAILED: "init",
              Outcome.NOT_ENTITLED: "init",
              Outcome.NO_MATCH: "match"}.get(outcome)
    steps = {}
    for step in STEPS:
        if step in reached:
            steps[step] = _DONE
        elif step == failed:
            steps[step] = _FAILED
        elif outcome == Outcome.WAITING and step == ("start" if score is not None else "match"):
            steps[step] = _WAITING
        else:
            steps[step] = _SKIPPED
    return steps


def picture(nub: IORegistryEntry, explanation: Mapping[str, Any]) -> dict[str, Any]:
    """``{"nub": {id, name, class, path, ids}, "candidates": [...], "unmatched": [...],
    "winners": [...]}``: the personalities whose passive match succeeded compete
    (``candidates``, best first); those that failed it did not (``unmatched``, each with the
    first key that failed), and are drawn apart. Each list holds at most :data:`MAX_SHOWN`
    (and every winner); ``more_candidates`` and ``more_unmatched`` count the rest.

    :param explanation: the ``explanation`` of a ``tool.explain`` reply.
    """
    properties = nub.copy_properties()
    ids = [[key, typed(properties[key])] for key in ID_KEYS if key in properties]
    candidates = []
    for raw in explanation.get("candidates", ()):
        outcome, score = str(raw.get("outcome")), raw.get("score")
        candidates.append({
            "personality": raw.get("personality"), "bundle": raw.get("bundle"),
            "class": raw.get("io_class"), "category": raw.get("category"),
            "initial_score": raw.get("initial_score"), "score": score, "outcome": outcome,
            "reason": raw.get("reason"),
            "winner": outcome in (Outcome.STARTED, Outcome.TERMINATED),
            "steps": _steps(outcome, score if isinstance(score, int) else None)})
    competed = [c for c in candidates if c["outcome"] != Outcome.NO_MATCH]
    unmatched = [c for c in candidates if c["outcome"] == Outcome.NO_MATCH]
    shown = competed[:MAX_SHOWN] + [c for c in competed[MAX_SHOWN:] if c["winner"]]
    return {"nub": {"id": nub.get_registry_entry_id(), "name": nub.get_name(),
                    "location": nub.get_location(), "class": nub.class_name(),
                    "path": explanation.get("provider"), "ids": ids},
            "candidates": shown, "more_candidates": len(competed) - len(shown),
            "unmatched": unmatched[:MAX_SHOWN],
            "more_unmatched": max(0, len(unmatched) - MAX_SHOWN),
            "steps": list(STEPS), "winners": [c for c in candidates if c["winner"]]}
