"""Binding: one matching pass on a nub, from candidates to started drivers (``probeCandidates``).

Design (as ``dd.c`` opens with its own): IOKit's lifecycle is 1:1 (one driver object, one
provider) while pluggy is 1:N, so every call below goes through a hook whose built-in
implementation calls the driver's own method (pytest's ``item.runtest()`` pattern); host
plugins wrap or replace it. The hook callers are cached once per host; the per-call cost is
one pluggy call plus the method (tests/bench/test_hook_bench.py).

A pass runs in IOKit's three phases:

A. passive: candidates from the catalogue, best first; skip categories that already have a
   live client; :func:`~iokit_host.matching.passive.match_passive`; load the kext only now that one
   of its personalities survived (lazy loading, :mod:`iokit_host.kernel.kext_loading`).
B. probe: allocate ``IOClass``, ``init`` with a copy of the personality (plus ``IONameMatched``,
   ``IOMatchCategory``), attach, probe, detach; group survivors by category.
C. start: per category, best score first, until one ``start`` succeeds; a failure or an
   exception lets the next one try; missing ``IOResourceMatch`` resources park the rest of
   the category in the waiting queue.

Every candidate's fate is classified in one place, :meth:`Binder._record`, and kept in an
:class:`~iokit_host.kernel.outcomes.OutcomeBook` that ``explain`` reads back. Every driver call
goes through the kernel's :class:`~iokit_host.kernel.driver_calls.DriverCalls`: a driver that
raises (``SystemExit`` included), hangs past the watchdog's limit or returns what its method
cannot return is reported with a kebab-case reference, that candidate fails, the next one gets
its turn and the boot goes on. A driver terminated during its own ``probe`` or ``start`` (by
itself, or with its provider) is neither started nor counted: the next candidate tries, as
long as the provider is alive.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

from iokit_sdk import keys
from iokit_sdk.service import IOService, ServiceState
from iokit_sdk.values import OSNumber

from iokit_host.errors import Diagnostic
from iokit_host.kernel.driver_calls import DriverFault, service_name
from iokit_host.kernel.driver_results import (
    SCORE_MAX,
    SCORE_MIN,
    Reading,
    read_score,
    read_success,
)
from iokit_host.kernel.kext_loading import KextLoader
from iokit_host.kernel.lifecycle import guarded_call
from iokit_host.kernel.outcomes import CandidateOutcome, Outcome, OutcomeBook
from iokit_host.kernel.waiting import ParkedStart, WaitingEntry
from iokit_host.matching.passive import (
    MatchPlan,
    PassiveMatch,
    compile_plan,
    match_passive,
    resource_names,
)

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop
    from iokit_host.matching.catalogue import CatalogueEntry

__all__ = ["STAND_IN_KEY", "Binder"]

#: Property marking a stand-in for a codeless kext's ``IOClass`` that has no Python code.
STAND_IN_KEY = "IOKitHostStandIn"


class _Candidate:
    """A personality that survived passive matching, and its driver instance once allocated."""

    __slots__ = ("entry", "instance", "match", "score")

    def __init__(self, entry: CatalogueEntry, match: PassiveMatch) -> None:
        self.entry = entry
        self.match = match
        self.instance: IOService | None = None
        self.score = match.score


def _by_score(candidate: _Candidate) -> int:
    return -candidate.score


class Binder:
    """Runs matching passes for one kernel and remembers what happened on each nub."""

    def __init__(self, kernel: WorkLoop) -> None:
        self.kernel = kernel
        self.hook = kernel.hook
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

    # -- doServiceMatch ------------------------------------------------------------------------
    def match_nub(self, nub: IOService) -> None:
        """One matching pass on ``nub``; releases the busy count ``start_matching`` took."""
        try:
            if not nub.is_inactive():
                self._match_passes(nub)
        finally:
            self.kernel.adjust_busy(nub, -1)

    def _match_passes(self, nub: IOService) -> None:
        notify = self.kernel.notify
        if not nub._state & ServiceState.FIRST_PUBLISH:
            nub._state |= ServiceState.FIRST_PUBLISH
            notify("first_publish", nub)
        nub._state |= ServiceState.REGISTERED
        notify("publish", nub)
        catalogue = self.kernel.catalogue
        generation = -1
        # Drivers added while the pass ran (a start that loads kexts) get their turn, as
        # doServiceMatch loops on the catalogue generation.
        while generation != catalogue.generation and not nub.is_inactive():
            generation = catalogue.generation
            candidates = catalogue.find_drivers(nub)
            if candidates:
                self.probe_candidates(nub, candidates)
        if nub.is_inactive():
            return
        nub._state |= ServiceState.MATCHED
        notify("matched", nub)
        if not nub._state & ServiceState.FIRST_MATCH:
            nub._state |= ServiceState.FIRST_MATCH
            notify("first_match", nub)

    def probe_candidates(self, nub: IOService, candidates: list[CatalogueEntry]) -> None:
        survivors = self._passive_phase(nub, candidates)
        if not survivors:
            return
        start_lists = self._probe_phase(nub, survivors)
        for category, ordered in start_lists.items():
            ordered.sort(key=_by_score)
            self._start_category(nub, category, ordered)

    # -- phase A -------------------------------------------------------------------------------
    def _passive_phase(self, nub: IOService, candidates: list[CatalogueEntry]) -> list[_Candidate]:
        kernel = self.kernel
        waiting = kernel.waiting
        is_resources = nub is kernel.resources
        if is_resources:
            waiting.clear_resource_matches(nub)
        survivors: list[_Candidate] = []
        taken = _taken_categories(nub)
        registry = kernel.registry
        plans = self._plans
        for entry in candidates:
            if entry.category in taken:
                continue
            plan = plans.get(entry.seq) or self._compile_plan(entry)
            match = match_passive(entry.table, nub, registry=registry,
                                  check_provider_class=False, plan=plan)
            if not match.matched:
                if is_resources and match.failed_key == keys.RESOURCE_MATCH:
                    self._note_resource_wait(nub, entry, match)
                continue
            if not self._ensure_loaded(entry, nub):
                continue
            survivors.append(_Candidate(entry, match))
        if len(survivors) > 1:
            survivors.sort(key=_by_score)
        return survivors

    def _compile_plan(self, entry: CatalogueEntry) -> MatchPlan:
        """Compile and keep the plan of ``entry`` (the pass looks kept ones up inline)."""
        plan = self._plans[entry.seq] = compile_plan(entry.table)
        return plan

    def _note_resource_wait(self, nub: IOService, entry: CatalogueEntry,
                            match: PassiveMatch) -> None:
        names = resource_names(entry.table.get(keys.RESOURCE_MATCH))
        missing = tuple(n for n in names if not nub.has_property(n))
        self.kernel.waiting.note_resource_match(nub, entry.seq, WaitingEntry(
            "resource-match", f"{entry.bundle_id}/{entry.io_class} on IOResources",
            match.reason or "resource not published", missing, self.kernel.clock.now_ns()))

    # -- lazy kext loading ---------------------------------------------------------------------
    def _ensure_loaded(self, entry: CatalogueEntry, nub: IOService) -> bool:
        """Load the entry's kext now that one of its personalities survived passive matching;
        a kext that cannot load refuses the candidate with the reason."""
        if entry.bundle is None:
            return True
        failure = self.kexts.ensure_loaded(entry.bundle)
        if failure is None:
            return True
        self._record(nub, entry, None, Outcome.KEXT_FAILED, failure.message)
        return False

    # -- phase B -------------------------------------------------------------------------------
    def _probe_phase(self, nub: IOService, survivors: list[_Candidate]
                     ) -> dict[str, list[_Candidate]]:
        start_lists: dict[str, list[_Candidate]] = {}
        for index, candidate in enumerate(survivors):
            if nub.is_inactive():  # a driver's probe terminated its provider
                self._release(nub, survivors[index:])
                break
            if self._instantiate(nub, candidate) and self._probe_one(nub, candidate):
                start_lists.setdefault(candidate.entry.category, []).append(candidate)
        return start_lists

    def _instantiate(self, nub: IOService, candidate: _Candidate) -> bool:
        entry = candidate.entry
        cls, stand_in = self._class_for(entry)
        if cls is None:
            self._class_unknown(nub, entry)
            return False
        props = dict(entry.table)
        if candidate.match.name_matched is not None:
            props[keys.NAME_MATCHED] = candidate.match.name_matched
        props[keys.MATCH_CATEGORY] = entry.category
        if stand_in:
            props[STAND_IN_KEY] = True
        result = self.calls.call(self._allocate, candidate, cls, props)
        if isinstance(result, DriverFault):
            self._driver_fault("driver-init-raised", "init", nub, candidate, result)
            self._record(nub, entry, None, Outcome.INIT_FAILED, result.reason("init"))
            return False
        reading = read_success("init", result, self.calls)
        self._report_reading(nub, candidate, reading)
        if not reading.ok:
            self._record(nub, entry, None, Outcome.INIT_FAILED, reading.reason)
        return reading.ok

    def _allocate(self, candidate: _Candidate, cls: type[IOService],
                  properties: dict[str, Any]) -> Any:
        """``allocClassWithName`` and ``init``: the class's constructor is driver code too."""
        instance = cls()
        instance._kernel = self.kernel
        candidate.instance = instance
        return self.hook.iokit_init(service=instance, properties=properties)

    def _class_for(self, entry: CatalogueEntry) -> tuple[type[IOService] | None, bool]:
        name = entry.io_class
        if name is None:
            return None, False
        classes = self.kernel.classes
        cls = classes.lookup(name)
        codeless = entry.bundle is not None and entry.bundle.package is None
        if cls is not None and not getattr(cls, "synthesised", False):
            return (cls if issubclass(cls, IOService) else None), False
        if not codeless:
            return None, False
        resolved = classes.resolve(name, default_super="IOService")
        return (resolved if issubclass(resolved, IOService) else None), True

    def _class_unknown(self, nub: IOService, entry: CatalogueEntry) -> None:
        message = f"IOClass {entry.io_class!r} of personality {entry.name!r} is not defined"
        self.kernel.report(Diagnostic(
            "class-unknown", message, key=f"IOKitPersonalities.{entry.name}.IOClass",
            subject=entry.bundle_id,
            hint="define the class in the kext's package (a subclass of IOService)"))
        self._record(nub, entry, None, Outcome.CLASS_UNKNOWN, message)

    def _probe_one(self, nub: IOService, candidate: _Candidate) -> bool:
        instance = candidate.instance
        assert instance is not None
        hook = self.hook
        if not hook.iokit_attach(service=instance, provider=nub):
            self._record(nub, candidate.entry, None, Outcome.PROBE_FAILED,
                         "attach to the provider was refused")
            self._free(instance)
            return False
        result = self.calls.call(hook.iokit_probe, service=instance, provider=nub,
                                 score=candidate.score)
        if isinstance(result, DriverFault) and not instance.is_inactive():
            self._stop_quietly(instance, nub)
        hook.iokit_detach(service=instance, provider=nub)
        if instance.is_inactive():  # termination already stopped, detached and freed it
            self._record(nub, candidate.entry, None, Outcome.PROBE_FAILED,
                         _terminated_reason("probe", nub))
            return False
        score: int | None = result
        if not (type(result) is int and SCORE_MIN <= result <= SCORE_MAX):
            score = self._probe_result(nub, candidate, result)
        if score is None:
            self._free(instance)
            return False
        candidate.score = score
        instance.set_property(keys.PROBE_SCORE, _score_number(score))
        return True

    def _probe_result(self, nub: IOService, candidate: _Candidate, result: Any) -> int | None:
        """The score of a probe that did not return a plain in-range int, or None after
        recording why the candidate is dropped (declined, raised, hung or a bad score)."""
        entry = candidate.entry
        if isinstance(result, DriverFault):
            self._driver_fault("driver-probe-raised", "probe", nub, candidate, result)
            self._record(nub, entry, None, Outcome.PROBE_FAILED, result.reason("probe"))
            return None
        reading = read_score(result, self.calls)
        if reading.ok:
            return reading.score
        self._report_reading(nub, candidate, reading)
        self._record(nub, entry, None, Outcome.PROBE_FAILED if reading.reference
                     else Outcome.DECLINED, reading.reason)
        return None

    # -- phase C -------------------------------------------------------------------------------
    def _start_category(self, nub: IOService, category: str, ordered: list[_Candidate]) -> None:
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

    def _missing_resources(self, nub: IOService, candidate: _Candidate) -> tuple[str, ...]:
        needed = candidate.match.resources
        if nub is not self.kernel.resources and nub.has_property(keys.RESOURCE_MATCH):
            needed = (*needed, *resource_names(nub.get_property(keys.RESOURCE_MATCH)))
        if not needed:
            return ()
        resources = self.kernel.ensure_resources()
        return tuple(name for name in needed if not resources.has_property(name))

    def _park(self, nub: IOService, category: str, rest: list[_Candidate],
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

    def _start_one(self, nub: IOService, candidate: _Candidate) -> bool:
        instance = candidate.instance
        assert instance is not None
        hook = self.hook
        if instance.is_inactive():  # terminated since its probe (by another driver, say)
            return self._start_failed(nub, candidate, "terminated before start")
        if not hook.iokit_attach(service=instance, provider=nub):
            self._free(instance)
            return self._start_failed(nub, candidate, "attach to the provider was refused")
        result = self.calls.call(hook.iokit_start, service=instance, provider=nub)
        started, reason = (True, "") if result is True else \
            self._start_result(nub, candidate, result)
        if instance.is_inactive():
            # Terminated during its start: termination stopped, detached and freed it, so it
            # is not started whatever start said, and the category is free again.
            return self._start_failed(nub, candidate, _terminated_reason("start", nub))
        if started:
            self.started[instance] = None
            self._record(nub, candidate.entry, candidate.score, Outcome.STARTED,
                         f"started with score {candidate.score}", initial=candidate.match.score)
            return True
        if isinstance(result, DriverFault):
            self._stop_quietly(instance, nub)
        self._undo_start(instance, nub)
        return self._start_failed(nub, candidate, reason)

    def _start_result(self, nub: IOService, candidate: _Candidate, result: Any
                      ) -> tuple[bool, str]:
        """Whether a start that did not return True started, and if not, why."""
        if isinstance(result, DriverFault):
            self._driver_fault("driver-start-raised", "start", nub, candidate, result)
            return False, result.reason("start")
        reading = read_success("start", result, self.calls)
        self._report_reading(nub, candidate, reading)
        return reading.ok, reading.reason

    def _start_failed(self, nub: IOService, candidate: _Candidate, reason: str) -> bool:
        self._record(nub, candidate.entry, candidate.score, Outcome.START_FAILED, reason,
                     initial=candidate.match.score)
        return False

    def _release(self, nub: IOService, rest: list[_Candidate]) -> None:
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
        self.hook.iokit_detach(service=instance, provider=nub)
        self._free(instance)

    def _record_losers(self, nub: IOService, winner: _Candidate, losers: list[_Candidate]) -> None:
        reason = (f"lost to {winner.entry.bundle_id} {winner.entry.io_class} "
                  f"(score {winner.score})")
        for loser in losers:
            self._record(nub, loser.entry, loser.score, Outcome.LOST, reason,
                         initial=loser.match.score)
            if loser.instance is not None:
                self._free(loser.instance)

    # -- helpers -------------------------------------------------------------------------------
    def _stop_quietly(self, instance: IOService, nub: IOService) -> None:
        """Stop a driver that raised or hung; a second failure is only reported."""
        guarded_call(self.kernel, "driver-stop-raised", "stop", instance,
                     partial(self.hook.iokit_stop, service=instance, provider=nub),
                     hint="the candidate was dropped")

    def _free(self, instance: IOService) -> None:
        guarded_call(self.kernel, "driver-free-raised", "free", instance,
                     partial(self.hook.iokit_free, service=instance),
                     hint="the candidate was dropped")

    def _driver_fault(self, reference: str, call: str, nub: IOService, candidate: _Candidate,
                      fault: DriverFault) -> None:
        entry = candidate.entry
        hint = ("the call was abandoned and the next candidate got its turn; "
                "IOKIT_DRIVER_TIMEOUT=<seconds> sets the limit" if fault.timed_out else
                "the driver was stopped and the next candidate got its turn")
        self.kernel.report(Diagnostic(
            fault.reference(reference), f"{_driver(entry, nub)}: {fault.reason(call)}",
            subject=entry.bundle_id, key=f"IOKitPersonalities.{entry.name}", hint=hint,
            context={"exception": fault.error}))

    def _report_reading(self, nub: IOService, candidate: _Candidate, reading: Reading) -> None:
        if reading.reference is None:
            return
        entry = candidate.entry
        self.kernel.report(Diagnostic(
            reading.reference, f"{_driver(entry, nub)}: {reading.reason}",
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
        record = CandidateOutcome(entry.name, entry.bundle_id, entry.io_class, entry.category,
                                  initial, score, outcome, reason, entry.seq)
        self.outcomes.keep(nub, record)

    def forget(self, service: IOService) -> None:
        self.outcomes.forget(service)
        self.started.pop(service, None)


@lru_cache(maxsize=4096)
def _score_number(score: int) -> OSNumber:
    """The 32-bit ``IOProbeScore`` number, shared: boots set the same few scores on thousands
    of drivers, and each distinct ``OSNumber`` costs an object and its attribute dict."""
    return OSNumber(score, 32)


def _taken_categories(nub: IOService) -> set[str]:
    """Categories with a live client on ``nub`` (``copyClientWithCategory``)."""
    taken: set[str] = set()
    for client in nub.iter_child_entries():
        category = client.get_property(keys.MATCH_CATEGORY)
        if isinstance(category, str) and isinstance(client, IOService) \
                and not client.is_inactive():
            taken.add(category)
    return taken


def _driver(entry: CatalogueEntry, nub: IOService) -> str:
    return f"{entry.io_class} ({entry.bundle_id}) on {service_name(nub)}"


def _terminated_reason(call: str, nub: IOService) -> str:
    if nub.is_inactive():
        return f"its provider was terminated during {call}"
    return f"terminated during {call}"


