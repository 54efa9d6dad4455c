"""Binding: one matching pass on a nub, from candidates to started drivers (``probeCandidates``).

Design (as ``dd.c`` opens with its own): IOKit's lifecycle is 1:1 (one driver object, one
provider) while pluggy is 1:N, so every call below goes through a hook whose built-in
implementation calls the driver's own method (pytest's ``item.runtest()`` pattern); host
plugins wrap or replace it. The hook callers are cached once per host; the per-call cost is
one pluggy call plus the method (tests/bench/test_hook_bench.py), and while the built-in plugin
is alone (no host plugin implements the hook, no monitor watches) the pass calls the built-in
implementation itself, all the hook call would run (:meth:`.HostPluginManager.caller`).

A pass runs in IOKit's three phases:

A. passive: candidates from the catalogue, best first; skip categories that already have a
   live client; :func:`~iokit_host.matching.passive.match_passive`; load the kext only now that one
   of its personalities survived (lazy loading, :mod:`iokit_host.kernel.kext_loading`).
B. probe: allocate ``IOClass``, ``init`` with a copy of the personality (plus ``IONameMatched``,
   ``IOMatchCategory``), attach, probe, detach; group survivors by category.
C. start: per category, best score first, until one ``start`` succeeds; a failure or an
   exception lets the next one try; missing ``IOResourceMatch`` resources park the rest of
   the category in the waiting queue (:mod:`iokit_host.kernel.starting`).

Every candidate's fate is classified in one place,
:meth:`~iokit_host.kernel.candidates.CandidateWork._record`, and kept in an
:class:`~iokit_host.kernel.outcomes.OutcomeBook` that ``explain`` reads back. Every driver call
goes through the kernel's :class:`~iokit_host.kernel.driver_calls.DriverCalls`: a driver that
raises (``SystemExit`` included), hangs past the watchdog's limit or returns what its method
cannot return is reported with a kebab-case reference, that candidate fails, the next one gets
its turn and the boot goes on. A driver terminated during its own ``probe`` or ``start`` (by
itself, or with its provider) is neither started nor counted: the next candidate tries, as
long as the provider is alive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iokit_sdk import keys
from iokit_sdk.plain import copied_table
from iokit_sdk.service import IOService, ServiceState

from iokit_host.dext.placement import admit as admit_out_of_process
from iokit_host.dext.placement import entitlement_refusal, proxy_for
from iokit_host.dext.rematch import REMATCH_PERSONALITY, count_dext_matches, rematch_candidates
from iokit_host.errors import Diagnostic, quoted
from iokit_host.kernel.candidates import (
    Candidate,
    by_score,
    score_number,
    terminated_reason,
)
from iokit_host.kernel.driver_calls import DriverFault
from iokit_host.kernel.driver_results import (
    SCORE_MAX,
    SCORE_MIN,
    read_score,
    read_success,
)
from iokit_host.kernel.outcomes import Outcome
from iokit_host.kernel.starting import StartPhase
from iokit_host.kernel.waiting import WaitingEntry
from iokit_host.matching.families import FamilyView
from iokit_host.matching.passive import (
    MatchPlan,
    PassiveMatch,
    compile_plan,
    match_passive,
    resource_names,
)

if TYPE_CHECKING:
    from iokit_host.matching.catalogue import CatalogueEntry

__all__ = ["STAND_IN_KEY", "Binder"]

#: Property marking a stand-in for a codeless kext's ``IOClass`` that has no Python code.
STAND_IN_KEY = "IOKitHostStandIn"


class Binder(StartPhase):
    """Runs matching passes for one kernel and remembers what happened on each nub."""

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
            view = FamilyView(nub)  # the nub's family registers, read once for the pass
            candidates = catalogue.find_candidates(nub, view.vendor_ids())
            if candidates:
                self.probe_candidates(nub, candidates, view)
        if nub.is_inactive():
            return
        nub._state |= ServiceState.MATCHED
        notify("matched", nub)
        if not nub._state & ServiceState.FIRST_MATCH:
            nub._state |= ServiceState.FIRST_MATCH
            notify("first_match", nub)

    def probe_candidates(self, nub: IOService, candidates: list[CatalogueEntry],
                         view: FamilyView | None = None) -> None:
        rematch = False
        if nub.has_property(REMATCH_PERSONALITY):  # after a dext crashed: the same dext first
            kept, why = rematch_candidates(self.kernel, nub, candidates)
            rematch = why is not None
            allowed = {id(entry) for entry in kept}
            for entry in candidates:
                if id(entry) not in allowed:
                    self._record(nub, entry, None, Outcome.NO_MATCH, why or "")
            candidates = kept
        survivors = self._passive_phase(nub, candidates, view or FamilyView(nub))
        if rematch or survivors:
            count_dext_matches(nub, [c.entry for c in survivors], rematch)
        if not survivors:
            return
        start_lists = self._probe_phase(nub, survivors)
        for category, ordered in start_lists.items():
            if len(ordered) > 1:
                ordered.sort(key=by_score)
            self._start_category(nub, category, ordered)

    # -- phase A -------------------------------------------------------------------------------
    def _passive_phase(self, nub: IOService, candidates: list[CatalogueEntry],
                       view: FamilyView) -> list[Candidate]:
        kernel = self.kernel
        waiting = kernel.waiting
        is_resources = nub is kernel.resources
        if is_resources:
            waiting.clear_resource_matches(nub)
        survivors: list[Candidate] = []
        taken = _taken_categories(nub)
        registry = kernel.registry
        plans = self._plans
        passive = match_passive
        for entry in candidates:
            if taken and entry.category in taken:
                continue
            plan = plans.get(entry.seq) or self._compile_plan(entry)
            tests = plan.tests
            if tests is not None and not is_resources:
                # match_passive's answer, inline: its call and a PassiveMatch and a failure for
                # each failing candidate (nine in ten) were a tenth of a boot.
                failed = None
                for test, wanted in tests:
                    failed = test(wanted, nub, registry)
                    if failed is not None:
                        break
                if failed is not None:
                    continue
                match = PassiveMatch(True, plan.score)
            else:
                match = passive(entry.table, nub, registry=registry,
                                check_provider_class=False, plan=plan, view=view)
                if not match.matched:
                    if is_resources and match.failed_key == keys.RESOURCE_MATCH:
                        self._note_resource_wait(nub, entry, match)
                    continue
            loaded = self._ensure_loaded(entry, nub)
            view.forget()  # a kext's code ran on loading: read the nub again
            if not loaded or not self._admit(nub, entry):
                continue
            survivors.append(Candidate(entry, match))
        if len(survivors) > 1:
            survivors.sort(key=by_score)
        return survivors

    def _admit(self, nub: IOService, entry: CatalogueEntry) -> bool:
        """Whether ``entry`` may be tried on ``nub`` once more (:mod:`.rematch_limit`)."""
        refusal = self.rematches.admit(nub, entry)
        if refusal is None:
            return True
        self._record(nub, entry, None, Outcome.NO_MATCH, refusal)
        return False

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
        refusal = entitlement_refusal(self.kernel, entry, nub)  # a dext's signature
        if refusal is not None:
            self._record(nub, entry, None, Outcome.NOT_ENTITLED, refusal)
            return False
        if admit_out_of_process(self.kernel, entry, self.loaded_kexts):
            return True  # its driver process imports it, never the host (iokit_host.dext)
        failure = self.kexts.ensure_loaded(entry.bundle)
        if failure is None:
            return True
        self._record(nub, entry, None, Outcome.KEXT_FAILED, failure.message)
        return False

    # -- phase B -------------------------------------------------------------------------------
    def _probe_phase(self, nub: IOService, survivors: list[Candidate]
                     ) -> dict[str, list[Candidate]]:
        start_lists: dict[str, list[Candidate]] = {}
        for index, candidate in enumerate(survivors):
            if nub.is_inactive():  # a driver's probe terminated its provider
                self._release(nub, survivors[index:])
                break
            if self._instantiate(nub, candidate) and self._probe_one(nub, candidate):
                start_lists.setdefault(candidate.entry.category, []).append(candidate)
        return start_lists

    def _instantiate(self, nub: IOService, candidate: Candidate) -> bool:
        entry = candidate.entry
        cls, stand_in = self._class_for(entry)
        if cls is None:
            self._class_unknown(nub, entry)
            return False
        # The personality's copy, its containers too: a driver's init may change what it is
        # given, never the catalogue's personality the next nub matches against.
        props = copied_table(entry.table)
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
        if result is True:
            return True  # the common answer, read as read_success reads it
        reading = read_success("init", result, self.calls)
        self._report_reading(nub, candidate, reading)
        if not reading.ok:
            self._record(nub, entry, None, Outcome.INIT_FAILED, reading.reason)
        return reading.ok

    def _allocate(self, candidate: Candidate, cls: type[IOService],
                  properties: dict[str, Any]) -> Any:
        """``allocClassWithName`` and ``init``: the class's constructor is driver code too."""
        instance = cls()
        instance._kernel = self.kernel
        candidate.instance = instance
        return self.caller("iokit_init")(service=instance, properties=properties)

    def _class_for(self, entry: CatalogueEntry) -> tuple[type[IOService] | None, bool]:
        name = entry.io_class
        if name is None:
            return None, False
        proxy = proxy_for(self.kernel, entry)  # a dext or isolated kext: IOUserService
        if proxy is not None:
            return proxy, False
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
        found = self.kernel.classes.lookup(entry.io_class) if entry.io_class else None
        what = ("is not a subclass of IOService" if found is not None
                and not getattr(found, "synthesised", False) and not issubclass(found, IOService)
                else "is not defined")  # as allocClassWithName finds no metaclass
        message = (f"IOClass {quoted(entry.io_class)} of personality {quoted(entry.name)} "
                   f"{what}")
        bundle = entry.bundle
        self.kernel.report(Diagnostic(
            "class-unknown", f"{entry.bundle_id or 'a kext'}: {message}",
            file=bundle.source if bundle is not None else None,
            key=f"IOKitPersonalities.{entry.name}.IOClass", subject=entry.bundle_id,
            hint="define the class in the kext's package (a subclass of IOService)"))
        self._record(nub, entry, None, Outcome.CLASS_UNKNOWN, message)

    def _probe_one(self, nub: IOService, candidate: Candidate) -> bool:
        instance = candidate.instance
        assert instance is not None
        caller = self.caller
        if not caller("iokit_attach")(service=instance, provider=nub):
            self._record(nub, candidate.entry, None, Outcome.PROBE_FAILED,
                         "attach to the provider was refused")
            self._free(instance)
            return False
        result = self.calls.call(caller("iokit_probe"), service=instance, provider=nub,
                                 score=candidate.score)
        if isinstance(result, DriverFault) and not instance.is_inactive():
            self._stop_quietly(instance, nub)
        caller("iokit_detach")(service=instance, provider=nub)
        if instance.is_inactive():  # termination already stopped, detached and freed it
            self._record(nub, candidate.entry, None, Outcome.PROBE_FAILED,
                         terminated_reason("probe", nub))
            return False
        score: int | None = result
        if not (type(result) is int and SCORE_MIN <= result <= SCORE_MAX):
            score = self._probe_result(nub, candidate, result)
        if score is None:
            self._free(instance)
            return False
        candidate.score = score
        instance.set_property(keys.PROBE_SCORE, score_number(score))
        return True

    def _probe_result(self, nub: IOService, candidate: Candidate, result: Any) -> int | None:
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


def _taken_categories(nub: IOService) -> set[str]:
    """Categories with a live client on ``nub`` (``copyClientWithCategory``)."""
    taken: set[str] = set()
    for client in nub.iter_child_entries():
        category = client.get_property(keys.MATCH_CATEGORY)
        if isinstance(category, str) and isinstance(client, IOService) \
                and not client.is_inactive():
            taken.add(category)
    return taken
