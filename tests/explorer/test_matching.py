"""The matching picture: how far each candidate got through match, init, attach, probe and
start, read from its recorded fate."""

from __future__ import annotations

import pytest
from iokit_sdk.service import IOService

from iokit_host.explorer.matching import MAX_SHOWN, picture


def candidate(io_class: str, outcome: str, score: int | None) -> dict[str, object]:
    return {"personality": io_class, "bundle": f"com.test.{io_class}", "io_class": io_class,
            "category": "IODefaultMatchCategory", "initial_score": 100, "score": score,
            "outcome": outcome, "reason": "..."}


@pytest.mark.parametrize(("outcome", "score", "steps"), [
    ("started", 5000, ["done", "done", "done", "done", "done"]),
    ("lost", 1500, ["done", "done", "done", "done", "not reached"]),
    ("declined", None, ["done", "done", "done", "failed", "not reached"]),
    ("start-failed", 10, ["done", "done", "done", "done", "failed"]),
    ("init-failed", None, ["done", "failed", "not reached", "not reached", "not reached"]),
    ("waiting", 10, ["done", "done", "done", "done", "waiting"]),
    ("waiting", None, ["waiting", "not reached", "not reached", "not reached", "not reached"]),
    ("category-taken", None, ["done", "not reached", "not reached", "not reached",
                              "not reached"]),
])
def test_the_steps_follow_the_fate(outcome: str, score: int | None, steps: list[str]) -> None:
    nub = IOService(name="ARPT", location="0")
    shown = picture(nub, {"provider": "IOService:/ARPT@0",
                          "candidates": [candidate("Driver", outcome, score)]})
    (row,) = shown["candidates"]
    assert [row["steps"][s] for s in shown["steps"]] == steps
    assert row["winner"] is (outcome == "started")


def test_personalities_that_did_not_match_are_drawn_apart_and_ids_shown() -> None:
    nub = IOService(name="ARPT", location="0")
    nub.set_property("vendor-id", b"\xe4\x14\x00\x00")
    shown = picture(nub, {"provider": "IOService:/ARPT@0",
                          "candidates": [candidate("Win", "started", 5000),
                                         candidate("Other", "no-match", None)]})
    assert [c["class"] for c in shown["candidates"]] == ["Win"]
    assert [c["class"] for c in shown["unmatched"]] == ["Other"]
    assert [w["class"] for w in shown["winners"]] == ["Win"]
    assert shown["nub"]["ids"] == [["vendor-id", {"t": "data", "len": 4, "hex": "e4140000"}]]


def test_past_the_limit_the_rest_are_counted_and_a_winner_kept() -> None:
    nub = IOService(name="ARPT", location="0")
    lost = [candidate(f"L{i}", "lost", 9000 - i) for i in range(MAX_SHOWN + 5)]
    shown = picture(nub, {"provider": "IOService:/ARPT@0", "candidates": [
        *lost, candidate("Win", "started", 10), *(candidate(f"N{i}", "no-match", None)
                                                   for i in range(MAX_SHOWN + 3))]})
    assert len(shown["candidates"]) == MAX_SHOWN + 1 and shown["candidates"][-1]["class"] == "Win"
    assert shown["more_candidates"] == 5
    assert len(shown["unmatched"]) == MAX_SHOWN and shown["more_unmatched"] == 3
