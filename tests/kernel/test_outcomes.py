"""The outcome book: one latest fate per candidate per nub, in first-recorded order."""

from __future__ import annotations

from iokit_sdk import IOService

from iokit_host.kernel.outcomes import CandidateOutcome, Outcome, OutcomeBook


def _fate(seq: int, outcome: str, reason: str = "") -> CandidateOutcome:
    return CandidateOutcome(f"p{seq}", "com.test", f"C{seq}", "IODefaultMatchCategory",
                            100, 100, outcome, reason, seq)


def test_a_later_fate_replaces_the_earlier_one_in_place_and_nubs_are_kept_apart() -> None:
    book, nub, other = OutcomeBook(), IOService(name="nub"), IOService(name="other")
    book.keep(nub, _fate(1, Outcome.WAITING, "waiting for resource 'IOBSD'"))
    book.keep(nub, _fate(2, Outcome.DECLINED))
    book.keep(nub, _fate(1, Outcome.STARTED))  # the parked start went ahead
    book.keep(other, _fate(1, Outcome.LOST))
    assert [(r.seq, r.outcome) for r in book.of(nub)] == [(1, "started"), (2, "declined")]
    assert book.has(nub, 2) and not book.has(other, 2)
    book.forget(nub)
    assert book.of(nub) == () and [r.outcome for r in book.of(other)] == ["lost"]


def test_the_json_shape_is_what_explain_prints() -> None:
    assert _fate(3, Outcome.LOST, "lost to x").to_json() == {
        "bundle": "com.test", "class": "C3", "category": "IODefaultMatchCategory",
        "score": 100, "initial_score": 100, "outcome": "lost", "reason": "lost to x"}
