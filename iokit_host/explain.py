"""Explain: why each personality did or did not drive one nub (no IOKit counterpart).

On a Mac the answer is scattered over ``kIOLogMatch`` log lines. ``ancestry`` says where the
class facts came from that made the nub an instance of each personality's ``IOProviderClass``
(a public table, the machine's own record, a declaration; see
:mod:`iokit_host.matching.ancestry`). Here it is assembled from the
binder's record of each matching pass (started, lost, declined, failed, waiting) and, for the
personalities that never got that far, a fresh pure passive match that names the first key
that failed and why.

Each column means one thing on every row: ``initial`` is the score probe is offered
(``IOProbeScore`` after the family's ``matchPropertyTable``), ``score`` the score the candidate
bid with once probed (``-`` when it never was), ``outcome`` one fate: a driver started and
since terminated reads ``terminated``, not ``started``; candidates queued behind a start
parked on a resource read ``waiting``, not ``not-run``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from iokit_sdk import keys

from iokit_host.kernel.outcomes import CandidateOutcome, Outcome
from iokit_host.matching.passive import match_passive
from iokit_host.registry import get_path

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

    from iokit_host.kernel.workloop import IOKernel
    from iokit_host.matching.catalogue import CatalogueEntry

__all__ = ["ExplainedCandidate", "Explanation", "explain"]


#: One personality considered for the nub: the binder's own record of its fate.
ExplainedCandidate = CandidateOutcome


@dataclass(frozen=True, slots=True)
class Explanation:
    """Every personality the catalogue offers for ``provider``, best first."""

    provider: str
    provider_class: str
    candidates: tuple[ExplainedCandidate, ...]
    ancestry: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"provider": self.provider,
                "candidates": [c.to_json() for c in self.candidates],
                "ancestry": list(self.ancestry)}

    def outcome_of(self, io_class: str) -> ExplainedCandidate | None:
        return next((c for c in self.candidates if c.io_class == io_class), None)


def explain(kernel: IOKernel, nub: IOService) -> Explanation:
    recorded = {r.seq: r for r in kernel.binder.outcomes.of(nub)}
    candidates = [_explain_one(kernel, nub, entry, recorded.get(entry.seq))
                  for entry in kernel.catalogue.find_drivers(nub)]
    path = get_path(kernel.registry, nub, keys.SERVICE_PLANE) or nub.get_name()
    return Explanation(path, nub.iokit_class_name, tuple(candidates),
                       _ancestry(kernel, nub, candidates))


def _ancestry(kernel: IOKernel, nub: IOService,
              candidates: list[ExplainedCandidate]) -> tuple[str, ...]:
    """Where the facts came from that made the nub an instance of each candidate's
    ``IOProviderClass`` (the catalogue offered them by that chain), once per class."""
    wanted = dict.fromkeys(entry.provider_class for entry in kernel.catalogue.find_drivers(nub)
                           if entry.provider_class != nub.iokit_class_name)
    lines = (kernel.classes.describe_ancestry(nub.iokit_class_name, name) for name in wanted)
    return tuple(line for line in lines if line) if candidates else ()


def _explain_one(kernel: IOKernel, nub: IOService, entry: CatalogueEntry,
                 record: CandidateOutcome | None) -> ExplainedCandidate:
    if record is not None:
        return _still_started(nub, record) if record.outcome == Outcome.STARTED else record
    queued = _queued(kernel, nub, entry)
    if queued is not None:
        return queued
    match = match_passive(entry.table, nub, registry=kernel.registry)
    if not match.matched:
        outcome, reason = Outcome.NO_MATCH, f"{match.failed_key}: {match.reason}"
        if match.failed_key == keys.RESOURCE_MATCH:
            outcome = Outcome.WAITING
    else:
        outcome, reason = _unrun_reason(nub, entry)
    # Never probed: no bid to show, only the score probe would have been offered.
    return CandidateOutcome(entry.name, entry.bundle_id, entry.io_class, entry.category,
                            match.score, None, outcome, reason, entry.seq)


def _live_driver(nub: IOService, category: str) -> IOService | None:
    """The nub's active client holding ``category`` (``copyClientWithCategory``)."""
    return next((client for client in nub.get_clients()
                 if client.get_property(keys.MATCH_CATEGORY) == category
                 and not client.is_inactive()), None)


def _still_started(nub: IOService, record: CandidateOutcome) -> CandidateOutcome:
    """A started record whose driver has since been terminated reads ``terminated``."""
    driver = _live_driver(nub, record.category)
    if driver is not None and driver.iokit_class_name == record.io_class:
        return record
    return replace(record, outcome=Outcome.TERMINATED,
                   reason=f"{record.reason}; since terminated")


def _queued(kernel: IOKernel, nub: IOService, entry: CatalogueEntry) -> CandidateOutcome | None:
    """A candidate probed and queued behind the first of a category parked on resources."""
    for parked in kernel.waiting.parked():
        if parked.nub is not nub:
            continue
        if not parked.candidates:
            continue
        first, *rest = parked.candidates
        for candidate in rest:
            if candidate.entry.seq == entry.seq:
                return CandidateOutcome(
                    entry.name, entry.bundle_id, entry.io_class, entry.category,
                    candidate.match.score, candidate.score, Outcome.WAITING,
                    f"queued behind {first.entry.bundle_id} {first.entry.io_class}, which "
                    f"waits for {', '.join(repr(n) for n in parked.needed)}", entry.seq)
    return None


def _unrun_reason(nub: IOService, entry: CatalogueEntry) -> tuple[str, str]:
    client = _live_driver(nub, entry.category)
    if client is not None:
        bundle = client.get_property(keys.BUNDLE_IDENTIFIER)
        return (Outcome.CATEGORY_TAKEN,
                f"category {entry.category} already has a driver: "
                f"{client.iokit_class_name}" + (f" ({bundle})" if bundle else ""))
    return Outcome.NOT_RUN, "matches passively, but no matching pass has run on this nub"
