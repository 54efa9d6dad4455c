"""Explain: why each personality did or did not drive one nub (no IOKit counterpart).

On a Mac the answer is scattered over ``kIOLogMatch`` log lines. Here it is assembled from the
binder's record of each matching pass (started, lost, declined, failed, waiting) and, for the
personalities that never got that far, a fresh pure passive match that names the first key
that failed and why.
"""

from __future__ import annotations

from dataclasses import dataclass
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

    def to_json(self) -> dict[str, Any]:
        return {"provider": self.provider,
                "candidates": [c.to_json() for c in self.candidates]}

    def outcome_of(self, io_class: str) -> ExplainedCandidate | None:
        return next((c for c in self.candidates if c.io_class == io_class), None)


def explain(kernel: IOKernel, nub: IOService) -> Explanation:
    recorded = {r.seq: r for r in kernel.binder.outcomes.of(nub)}
    candidates = [_explain_one(kernel, nub, entry, recorded.get(entry.seq))
                  for entry in kernel.catalogue.find_drivers(nub)]
    path = get_path(kernel.registry, nub, keys.SERVICE_PLANE) or nub.get_name()
    return Explanation(path, nub.iokit_class_name, tuple(candidates))


def _explain_one(kernel: IOKernel, nub: IOService, entry: CatalogueEntry,
                 record: CandidateOutcome | None) -> ExplainedCandidate:
    if record is not None:
        return record
    match = match_passive(entry.table, nub, registry=kernel.registry)
    if not match.matched:
        outcome, reason = Outcome.NO_MATCH, f"{match.failed_key}: {match.reason}"
        if match.failed_key == keys.RESOURCE_MATCH:
            outcome = Outcome.WAITING
    else:
        outcome, reason = _unrun_reason(nub, entry)
    return CandidateOutcome(entry.name, entry.bundle_id, entry.io_class, entry.category,
                            entry.score, match.score if match.matched else None, outcome,
                            reason, entry.seq)


def _unrun_reason(nub: IOService, entry: CatalogueEntry) -> tuple[str, str]:
    for client in nub.get_clients():
        if client.get_property(keys.MATCH_CATEGORY) == entry.category:
            bundle = client.get_property(keys.BUNDLE_IDENTIFIER)
            return (Outcome.CATEGORY_TAKEN,
                    f"category {entry.category} already has a driver: "
                    f"{client.iokit_class_name}" + (f" ({bundle})" if bundle else ""))
    return Outcome.NOT_RUN, "matches passively, but no matching pass has run on this nub"
