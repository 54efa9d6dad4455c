"""The fate of every candidate on every nub: what ``iokit explain`` reads back.

IOKit keeps no record of the personalities that lost, declined or failed on a nub; it logs
them with ``kIOLogMatch`` and ``IOKitDebug``. The host keeps one record per candidate per nub,
replaced as the candidate moves on (waiting, then started; started, then lost to a later
winner), so ``explain`` can show the seed's picture as a table without re-running anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

    from iokit_host.matching.catalogue import CatalogueEntry

__all__ = ["CandidateOutcome", "Outcome", "OutcomeBook"]


class Outcome:
    """What became of one candidate (the values ``explain`` prints); each names one fate."""

    STARTED = "started"
    #: Started, and since terminated: the nub no longer has it as a client.
    TERMINATED = "terminated"
    LOST = "lost"
    DECLINED = "declined"
    START_FAILED = "start-failed"
    PROBE_FAILED = "probe-failed"
    INIT_FAILED = "init-failed"
    CLASS_UNKNOWN = "class-unknown"
    KEXT_FAILED = "kext-load-failed"
    #: A dext refused by DriverKit's entitlement checks (``IOUserServer::checkEntitlements``).
    NOT_ENTITLED = "not-entitled"
    WAITING = "waiting"
    NO_MATCH = "no-match"
    CATEGORY_TAKEN = "category-taken"
    NOT_RUN = "not-run"


@dataclass(frozen=True, slots=True)
class CandidateOutcome:
    """The fate of one personality on one nub.

    :param initial_score: the score probe is offered: ``IOProbeScore`` as the family's
        ``matchPropertyTable`` left it (the personality's own when no family hook ran).
    :param score: the score the candidate bid with, as probe returned it; None when it was
        never probed or declined (no match, a kext that failed to load, waiting to match).
    """

    personality: str
    bundle: str | None
    io_class: str | None
    category: str
    initial_score: int
    score: int | None
    outcome: str
    reason: str
    seq: int

    def to_json(self) -> dict[str, Any]:
        """The shape ``iokit explain --json`` prints for one candidate."""
        return {"bundle": self.bundle, "class": self.io_class, "category": self.category,
                "score": self.score, "initial_score": self.initial_score,
                "outcome": self.outcome, "reason": self.reason}


#: A fate as :meth:`OutcomeBook.note` keeps it: (entry, initial score, score, outcome, reason).
_Fate = tuple["CatalogueEntry", int, "int | None", str, str]
_Kept = CandidateOutcome | _Fate


class OutcomeBook:
    """Each nub's candidates' latest fates, in the order they were first recorded.

    A boot records a fate or a few for each of its thousands of nubs and hardly reads one
    back (``explain`` does), so a fate is kept as :meth:`note` gives it and made a
    :class:`CandidateOutcome` when read; a nub with one fate keeps it without a list."""

    def __init__(self) -> None:
        self._by_nub: dict[IOService, _Kept | list[_Kept]] = {}

    def keep(self, nub: IOService, record: CandidateOutcome) -> None:
        """Record ``record``, replacing the same personality's earlier fate on ``nub``."""
        self._put(nub, record.seq, record)

    def note(self, nub: IOService, entry: CatalogueEntry, initial: int, score: int | None,
             outcome: str, reason: str) -> None:
        """:meth:`keep` the fate of ``entry`` on ``nub`` (its record is made when read)."""
        self._put(nub, entry.seq, (entry, initial, score, outcome, reason))

    def _put(self, nub: IOService, seq: int, kept: _Kept) -> None:
        held = self._by_nub.get(nub)
        if held is None:
            self._by_nub[nub] = kept
        elif not isinstance(held, list):
            self._by_nub[nub] = kept if _seq(held) == seq else [held, kept]
        else:
            for index, old in enumerate(held):
                if _seq(old) == seq:
                    held[index] = kept
                    return
            held.append(kept)

    def of(self, nub: IOService) -> tuple[CandidateOutcome, ...]:
        return tuple(map(_record, self._kept(nub)))

    def has(self, nub: IOService, seq: int) -> bool:
        """True when the personality with catalogue ``seq`` has a fate on ``nub``."""
        return any(_seq(kept) == seq for kept in self._kept(nub))

    def forget(self, nub: IOService) -> None:
        self._by_nub.pop(nub, None)

    def _kept(self, nub: IOService) -> list[_Kept]:
        held = self._by_nub.get(nub)
        if held is None:
            return []
        return held if isinstance(held, list) else [held]


def _seq(kept: _Kept) -> int:
    return kept.seq if isinstance(kept, CandidateOutcome) else kept[0].seq


def _record(kept: _Kept) -> CandidateOutcome:
    if isinstance(kept, CandidateOutcome):
        return kept
    entry, initial, score, outcome, reason = kept
    return CandidateOutcome(entry.name, entry.bundle_id, entry.io_class, entry.category,
                            initial, score, outcome, reason, entry.seq)
