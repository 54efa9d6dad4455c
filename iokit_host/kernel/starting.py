"""The start phase of a matching pass (``probeCandidates``, phase C).

Per match category, best score first, until one ``start`` succeeds: a failure, an exception or
a hang lets the next candidate try; missing ``IOResourceMatch`` resources park the rest of the
category in the waiting queue until they are published; the losers are freed.
"""

from __future__ import annotations

from typing import Any

from iokit_sdk import keys
from iokit_sdk.service import IOService

from iokit_host.kernel.candidates import Candidate, CandidateWork, terminated_reason
from iokit_host.kernel.driver_calls import DriverFault
from iokit_host.kernel.driver_results import read_success
from iokit_host.kernel.outcomes import Outcome
from iokit_host.kernel.waiting import ParkedStart, WaitingEntry
from iokit_host.matching.passive import resource_names

__all__ = ["StartPhase"]


class StartPhase(CandidateWork):
    """Starts the best candidate of each category, falling back on failure."""

    def _start_category(self, nub: IOService, category: str, ordered: list[Candidate]) -> None:
        for index, candidate in enumerate(ordered):
            if nub.is_inactive():
                self._release(nub, ordered[index:])
                return
            missing = self._missing_resources(nub, candidate)
            if missing:
                self._park(nub, category, ordered[index:], missing)
                return
            if self._start_one(nub, candidate):
                self._record_losers(nub, candidate, ordered[index + 1:])
                return

    def _missing_resources(self, nub: IOService, candidate: Candidate) -> tuple[str, ...]:
        needed = candidate.match.resources
        if nub is not self.kernel.resources and nub.has_property(keys.RESOURCE_MATCH):
            needed = (*needed, *resource_names(nub.get_property(keys.RESOURCE_MATCH)))
        if not needed:
            return ()
        resources = self.kernel.ensure_resources()
        return tuple(name for name in needed if not resources.has_property(name))

    def _park(self, nub: IOService, category: str, rest: list[Candidate],
              missing: tuple[str, ...]) -> None:
        first = rest[0]
        reason = f"waiting for resource {', '.join(repr(m) for m in missing)} to be published"
        entry = WaitingEntry("start", f"{first.entry.bundle_id}/{first.entry.io_class} on "
                             f"{nub.get_name()}", reason, missing, self.kernel.clock.now_ns())
        self.kernel.adjust_busy(nub, +1)
        self.kernel.waiting.park(ParkedStart(nub, category, rest, missing, entry))
        self._record(nub, first.entry, first.score, Outcome.WAITING, reason,
                     initial=first.match.score)

    def resume(self, parked: ParkedStart) -> None:
        """Continue a category parked on resources, now that they are published."""
        try:
            if not parked.nub.is_inactive():
                self._start_category(parked.nub, parked.category, parked.candidates)
        finally:
            self.kernel.adjust_busy(parked.nub, -1)

    def _start_one(self, nub: IOService, candidate: Candidate) -> bool:
        instance = candidate.instance
        assert instance is not None
        caller = self.caller
        if instance.is_inactive():  # terminated since its probe (by another driver, say)
            return self._start_failed(nub, candidate, "terminated before start")
        if not caller("iokit_attach")(service=instance, provider=nub):
            self._free(instance)
            return self._start_failed(nub, candidate, "attach to the provider was refused")
        result = self.calls.call(caller("iokit_start"), service=instance, provider=nub)
        started, reason = (True, "") if result is True else \
            self._start_result(nub, candidate, result)
        if instance.is_inactive():
            # Terminated during its start: termination stopped, detached and freed it, so it
            # is not started whatever start said, and the category is free again.
            return self._start_failed(nub, candidate, terminated_reason("start", nub))
        if started:
            self.started[instance] = None
            self._record(nub, candidate.entry, candidate.score, Outcome.STARTED,
                         f"started with score {candidate.score}", initial=candidate.match.score)
            return True
        if isinstance(result, DriverFault):
            self._stop_quietly(instance, nub)
        self._undo_start(instance, nub)
        return self._start_failed(nub, candidate, reason)

    def _start_result(self, nub: IOService, candidate: Candidate, result: Any
                      ) -> tuple[bool, str]:
        """Whether a start that did not return True started, and if not, why."""
        if isinstance(result, DriverFault):
            self._driver_fault("driver-start-raised", "start", nub, candidate, result)
            return False, result.reason("start")
        reading = read_success("start", result, self.calls)
        self._report_reading(nub, candidate, reading)
        return reading.ok, reading.reason

    def _start_failed(self, nub: IOService, candidate: Candidate, reason: str) -> bool:
        self._record(nub, candidate.entry, candidate.score, Outcome.START_FAILED, reason,
                     initial=candidate.match.score)
        return False

    def _release(self, nub: IOService, rest: list[Candidate]) -> None:
        """Drop candidates whose provider was terminated before their turn."""
        for candidate in rest:
            self._record(nub, candidate.entry, candidate.score, Outcome.NOT_RUN,
                         "the provider was terminated", initial=candidate.match.score)
            if candidate.instance is not None and not candidate.instance.is_inactive():
                self._free(candidate.instance)

    def _undo_start(self, instance: IOService, nub: IOService) -> None:
        """A failed start: terminate nubs it published, detach it, free it."""
        for client in instance.get_clients():
            self.kernel.terminate(client)
        self.caller("iokit_detach")(service=instance, provider=nub)
        self._free(instance)

    def _record_losers(self, nub: IOService, winner: Candidate, losers: list[Candidate]) -> None:
        if not losers:
            return  # most categories have one candidate
        reason = (f"lost to {winner.entry.bundle_id} {winner.entry.io_class} "
                  f"(score {winner.score})")
        for loser in losers:
            self._record(nub, loser.entry, loser.score, Outcome.LOST, reason,
                         initial=loser.match.score)
            if loser.instance is not None:
                self._free(loser.instance)
