"""Candidates of a matching pass and the record of their fates (``probeCandidates``' list).

A personality that survives passive matching becomes a :class:`Candidate`; its driver object
is allocated, probed and perhaps started. :class:`CandidateWork` holds what every phase of the
pass shares: the kernel, the hook relay, the guarded driver calls, and the one place each
candidate's fate is decided and kept (:meth:`CandidateWork._record`), which ``explain`` reads.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import TYPE_CHECKING

from iokit_sdk.service import IOService
from iokit_sdk.values import OSNumber

from iokit_host.errors import Diagnostic
from iokit_host.kernel.driver_calls import DriverFault, service_name
from iokit_host.kernel.driver_results import Reading
from iokit_host.kernel.kext_loading import KextLoader
from iokit_host.kernel.lifecycle import guarded_call
from iokit_host.kernel.outcomes import OutcomeBook
from iokit_host.kernel.rematch_limit import RematchLimit
from iokit_host.matching.passive import MatchPlan, PassiveMatch, match_passive

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop
    from iokit_host.matching.catalogue import CatalogueEntry

__all__ = ["Candidate", "CandidateWork", "by_score", "driver_label", "score_number",
           "terminated_reason"]


class Candidate:
    """A personality that survived passive matching, and its driver instance once allocated."""

    __slots__ = ("entry", "instance", "match", "score")

    def __init__(self, entry: CatalogueEntry, match: PassiveMatch) -> None:
        self.entry = entry
        self.match = match
        self.instance: IOService | None = None
        self.score = match.score


def by_score(candidate: Candidate) -> int:
    return -candidate.score


class CandidateWork:
    """What the phases of one matching pass share, and the record of every candidate's fate."""

    def __init__(self, kernel: WorkLoop) -> None:
        self.kernel = kernel
        #: A lifecycle hook's caller, or the built-in plugin's method while it is alone.
        self.caller = kernel.plugin_manager.caller
        self.calls = kernel.driver_calls
        self.kexts = KextLoader(kernel)
        #: Kexts loaded and kexts refused, by bundle id (the loader's own maps).
        self.loaded_kexts = self.kexts.loaded
        self.failed_kexts = self.kexts.failed
        self.outcomes = OutcomeBook()
        #: Drivers started and not yet freed, in start order.
        self.started: dict[IOService, None] = {}
        # One compiled match plan per catalogue entry (by its never-reused seq).
        self._plans: dict[int, MatchPlan] = {}
        #: How often each personality was tried on each nub: a rematch loop ends there.
        self.rematches = RematchLimit(kernel)

    def _stop_quietly(self, instance: IOService, nub: IOService) -> None:
        """Stop a driver that raised or hung; a second failure is only reported."""
        guarded_call(self.kernel, "driver-stop-raised", "stop", instance,
                     partial(self.caller("iokit_stop"), service=instance, provider=nub),
                     hint="the candidate was dropped")

    def _free(self, instance: IOService) -> None:
        guarded_call(self.kernel, "driver-free-raised", "free", instance,
                     partial(self.caller("iokit_free"), service=instance),
                     hint="the candidate was dropped")

    def _driver_fault(self, reference: str, call: str, nub: IOService, candidate: Candidate,
                      fault: DriverFault) -> None:
        entry = candidate.entry
        hint = ("the call was abandoned and the next candidate got its turn; "
                "IOKIT_DRIVER_TIMEOUT=<seconds> sets the limit" if fault.timed_out else
                "the driver was stopped and the next candidate got its turn")
        self.kernel.report(Diagnostic(
            fault.reference(reference), f"{driver_label(entry, nub)}: {fault.reason(call)}",
            subject=entry.bundle_id, key=f"IOKitPersonalities.{entry.name}", hint=hint,
            context={"exception": fault.error}))

    def _report_reading(self, nub: IOService, candidate: Candidate, reading: Reading) -> None:
        if reading.reference is None:
            return
        entry = candidate.entry
        self.kernel.report(Diagnostic(
            reading.reference, f"{driver_label(entry, nub)}: {reading.reason}",
            subject=entry.bundle_id, key=f"IOKitPersonalities.{entry.name}",
            severity=reading.severity, hint=reading.hint, context={"exception": reading.error}))

    def _record(self, nub: IOService, entry: CatalogueEntry, score: int | None, outcome: str,
                reason: str, *, initial: int | None = None) -> None:
        """Classify one candidate's fate: the single place outcomes are decided and kept.

        ``initial`` is always the score probe is offered: ``IOProbeScore`` as the family's
        ``matchPropertyTable`` left it (a USB ladder score, not the bare personality's);
        worked out again here, purely, for the fates that did not carry it."""
        if initial is None:
            initial = match_passive(entry.table, nub, registry=self.kernel.registry,
                                    check_provider_class=False,
                                    plan=self._plans.get(entry.seq)).score
        self.outcomes.note(nub, entry, initial, score, outcome, reason)

    def forget(self, service: IOService) -> None:
        self.outcomes.forget(service)
        self.started.pop(service, None)
        self.rematches.forget(service)



@lru_cache(maxsize=4096)
def score_number(score: int) -> OSNumber:
    """The 32-bit ``IOProbeScore`` number, shared: boots set the same few scores on thousands
    of drivers, and each distinct ``OSNumber`` costs an object and its attribute dict."""
    return OSNumber(score, 32)


def driver_label(entry: CatalogueEntry, nub: IOService) -> str:
    return f"{entry.io_class} ({entry.bundle_id}) on {service_name(nub)}"


def terminated_reason(call: str, nub: IOService) -> str:
    if nub.is_inactive():
        return f"its provider was terminated during {call}"
    return f"terminated during {call}"
