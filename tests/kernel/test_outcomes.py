"""The outcome book: one latest fate per candidate per nub, in first-recorded order."""

from __future__ import annotations

from hostkit import kext
from iokit_sdk import IOService

from iokit_host.kernel.outcomes import CandidateOutcome, Outcome, OutcomeBook
from iokit_host.matching.catalogue import IOCatalogue


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


def test_a_noted_fate_reads_back_as_the_record_keep_would_hold() -> None:
    """A boot notes fates (the record is made when read); they mix with kept records, and
    replace them, as kept ones do."""
    catalogue = IOCatalogue()
    first, second = catalogue.add_personalities(
        [("p1", {"IOClass": "C1", "IOProviderClass": "IOService", "IOProbeScore": 7}),
         ("p2", {"IOClass": "C2", "IOProviderClass": "IOService", "IOMatchCategory": "x"})],
        bundle=kext("com.test", {}))
    book, nub = OutcomeBook(), IOService(name="nub")
    book.note(nub, first, 7, 9, Outcome.STARTED, "started with score 9")
    assert book.of(nub) == (CandidateOutcome("p1", "com.test", "C1", "IODefaultMatchCategory",
                                             7, 9, "started", "started with score 9",
                                             first.seq),)
    book.keep(nub, _fate(second.seq, Outcome.DECLINED))
    book.note(nub, first, 7, None, Outcome.NOT_RUN, "the provider was terminated")
    assert [(r.personality, r.outcome) for r in book.of(nub)] == [("p1", "not-run"),
                                                                   (f"p{second.seq}", "declined")]
    assert book.has(nub, first.seq) and book.has(nub, second.seq)
    book.note(nub, second, 0, 0, Outcome.LOST, "lost")
    assert [r.outcome for r in book.of(nub)] == ["not-run", "lost"]
