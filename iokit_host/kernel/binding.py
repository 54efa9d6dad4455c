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
:class:`~iokit_host.kernel.outcomes.OutcomeBook` that ``explain`` reads back. A driver that raises is reported with a kebab-case reference and the boot goes on.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import TYPE_CHECKING

from iokit_sdk import keys
from iokit_sdk.service import IOService, ServiceState
from iokit_sdk.values import OSNumber

from iokit_host.errors import Diagnostic
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
        for candidate in survivors:
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
        instance = cls()
        instance._kernel = self.kernel
        candidate.instance = instance
        try:
            ok = self.hook.iokit_init(service=instance, properties=props)
        except Exception as error:  # noqa: BLE001 - driver code may raise anything
            self._raised("driver-init-raised", nub, candidate, error)
            self._record(nub, entry, None, Outcome.INIT_FAILED, _raised_reason("init", error))
            return False
        if ok is False:
            self._record(nub, entry, None, Outcome.INIT_FAILED, "init returned False")
            return False
        return True

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
            return False
        try:
            score = hook.iokit_probe(service=instance, provider=nub, score=candidate.score)
        except Exception as error:  # noqa: BLE001 - driver code may raise anything
            self._raised("driver-probe-raised", nub, candidate, error)
            self._record(nub, candidate.entry, None, Outcome.PROBE_FAILED,
                         _raised_reason("probe", error))
            score = None
            self._stop_quietly(instance, nub)
        finally:
            hook.iokit_detach(service=instance, provider=nub)
        if score is None:
            if not self.outcomes.has(nub, candidate.entry.seq):
                self._record(nub, candidate.entry, None, Outcome.DECLINED,
                             "probe returned None")
            self._free(instance)
            return False
        candidate.score = int(score)
        instance.set_property(keys.PROBE_SCORE, _score_number(candidate.score))
        return True

    # -- phase C -------------------------------------------------------------------------------
    def _start_category(self, nub: IOService, category: str, ordered: list[_Candidate]) -> None:
        for index, candidate in enumerate(ordered):
            if nub.is_inactive():
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
        if not hook.iokit_attach(service=instance, provider=nub):
            self._record(nub, candidate.entry, candidate.score, Outcome.START_FAILED,
                         "attach to the provider was refused", initial=candidate.match.score)
            return False
        try:
            started = hook.iokit_start(service=instance, provider=nub)
            reason = "start returned False"
        except Exception as error:  # noqa: BLE001 - driver code may raise anything
            self._raised("driver-start-raised", nub, candidate, error)
            started, reason = False, _raised_reason("start", error)
            self._stop_quietly(instance, nub)
        if started:
            self.started[instance] = None
            self._record(nub, candidate.entry, candidate.score, Outcome.STARTED,
                         f"started with score {candidate.score}", initial=candidate.match.score)
            return True
        self._undo_start(instance, nub)
        self._record(nub, candidate.entry, candidate.score, Outcome.START_FAILED, reason,
                     initial=candidate.match.score)
        return False

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
        """Stop a driver that raised; a second exception is only reported."""
        guarded_call(self.kernel, "driver-stop-raised", instance,
                     partial(self.hook.iokit_stop, service=instance, provider=nub),
                     hint="the candidate was dropped")

    def _free(self, instance: IOService) -> None:
        guarded_call(self.kernel, "driver-free-raised", instance,
                     partial(self.hook.iokit_free, service=instance),
                     hint="the candidate was dropped")

    def _raised(self, reference: str, nub: IOService, candidate: _Candidate,
                error: BaseException) -> None:
        entry = candidate.entry
        self.kernel.report(Diagnostic(
            reference, f"{entry.io_class} ({entry.bundle_id}) on {nub.get_name()}: "
            f"{type(error).__name__}: {error}", subject=entry.bundle_id,
            key=f"IOKitPersonalities.{entry.name}",
            hint="the driver was stopped and the next candidate got its turn",
            context={"exception": error}))

    def _record(self, nub: IOService, entry: CatalogueEntry, score: int | None, outcome: str,
                reason: str, *, initial: int | None = None) -> None:
        """Classify one candidate's fate: the single place outcomes are decided and kept."""
        record = CandidateOutcome(entry.name, entry.bundle_id, entry.io_class, entry.category,
                                  entry.score if initial is None else initial, score, outcome,
                                  reason, entry.seq)
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


def _raised_reason(call: str, error: BaseException) -> str:
    return f"{call} raised {type(error).__name__}: {error}"

