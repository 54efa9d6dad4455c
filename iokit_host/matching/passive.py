"""Passive matching: does one personality match one registry entry, and with what score?

This is IOKit's ``IOService::matchPassive`` and ``matchInternal`` as a pure function: no
registry change, no kext load, no driver call, so ``iokit explain`` and the conformance
check can run it on any entry, booted or not. The generic keys are checked in
``matchInternal``'s order (the checks are in :mod:`iokit_host.matching.generic_keys`) and the first
failure ends the match, naming the key and why.
Then, only when the personality has keys the generic code did not consume, the family's
``matchPropertyTable`` runs (it may change the score); then ``IOParentMatch`` and the
dictionary form of ``IOLocationMatch``. ``IOResourceMatch`` is checked here only on an
``IOResources`` nub; on any other nub it names resources that gate ``start`` (binding parks
the candidate until they are published).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from iokit_sdk import keys

from iokit_host.matching import families
from iokit_host.matching.catalogue import probe_score
from iokit_host.matching.generic_keys import (
    BSD_KEYS,
    Failure,
    Rule,
    Test,
    compile_rules,
    match_name,
    match_provider_class,
    rule_tests,
)

if TYPE_CHECKING:
    from iokit_sdk.entry import IORegistryEntry

    from iokit_host.registry import IORegistry

__all__ = [
    "BOOKKEEPING_KEYS",
    "GENERIC_KEYS",
    "MatchPlan",
    "PassiveMatch",
    "compile_plan",
    "match_passive",
    "resource_names",
]

#: Keys ``matchInternal`` consumes, in the order it checks them.
GENERIC_KEYS = frozenset({
    keys.PROVIDER_CLASS, keys.NAME_MATCH, keys.PROPERTY_MATCH, keys.PROPERTY_EXISTS_MATCH,
    keys.PATH_MATCH, keys.REGISTRY_ENTRY_ID_MATCH, keys.MATCHED_SERVICE_COUNT_MATCH, *BSD_KEYS,
})

#: Keys that never constrain a match, so they do not by themselves call the family hook.
#: IOKit counts them as unconsumed (so the family hook always runs for driver personalities),
#: but every family matcher ignores them; leaving them out lets a bare
#: ``{IOProviderClass, IOClass}`` personality match a family nub the way its base
#: ``matchPropertyTable`` would. They are: what to instantiate and how to rank it (IOClass,
#: IOProbeScore, IOMatchCategory), who published it (CFBundleIdentifier[Kernel],
#: IOPersonalityPublisher), what matching writes back (IONameMatched, IOMatchedPersonality),
#: what applies only after start (IOUserClientClass, IOProviderMergeProperties, IOKitDebug,
#: IOMatchDefer, DriverKit's IOUserServerName/IOUserClass), and the keys handled after the
#: family hook or at start (IOParentMatch, IOLocationMatch, IOResourceMatch).
BOOKKEEPING_KEYS = frozenset({
    keys.CLASS, keys.PROBE_SCORE, keys.MATCH_CATEGORY, keys.BUNDLE_IDENTIFIER,
    keys.BUNDLE_IDENTIFIER_KERNEL, keys.PERSONALITY_PUBLISHER, keys.NAME_MATCHED,
    "IOMatchedPersonality", keys.USER_CLIENT_CLASS, keys.PROVIDER_MERGE_PROPERTIES,
    keys.KIT_DEBUG, keys.MATCH_DEFER, keys.USER_SERVER_NAME, keys.USER_CLASS,
    keys.PARENT_MATCH, keys.LOCATION_MATCH, keys.RESOURCE_MATCH,
})

_CONSUMED = GENERIC_KEYS | BOOKKEEPING_KEYS
_AFTER_FAMILY_KEYS = (keys.PARENT_MATCH, keys.LOCATION_MATCH, keys.RESOURCE_MATCH)
_ABSENT = object()


class PassiveMatch(NamedTuple):
    """The outcome of passive matching.

    A named tuple rather than a frozen dataclass: matching builds one per candidate per nub,
    and a tuple is several times cheaper to construct (measured: 0.15 against 0.8 us).

    :param matched: True when every key matched.
    :param score: the probe score after family matching (the personality's own when the
        family hook did not run).
    :param name_matched: the string ``IONameMatch`` matched (``IONameMatched``), or None.
    :param failed_key: the first key that failed, or None.
    :param explanation: why it failed, or a function that says so; read it as ``reason``.
    :param resources: resources ``IOResourceMatch`` names on a non-IOResources nub; the
        driver starts only once all are published.
    :param waiting_for: those of ``resources`` not published on the ``resources`` entry given
        to :func:`match_passive` (all of them when none was given).
    """

    matched: bool
    score: int
    name_matched: str | None = None
    failed_key: str | None = None
    explanation: str | Callable[[], str] | None = None
    resources: tuple[str, ...] = ()
    waiting_for: tuple[str, ...] = ()

    @property
    def reason(self) -> str | None:
        """Why it failed, in one sentence, or None. Worked out on first reading: a boot
        rejects most candidates and never asks."""
        why = self.explanation
        return why() if callable(why) else why


@dataclass(frozen=True, slots=True)
class MatchPlan:
    """What matching needs of one personality, worked out once: its score, the generic rules
    its keys call for (in ``matchInternal`` order, with their values), and whether the family
    hook and the keys checked after it apply. The catalogue's personalities are matched against
    every nub of their class, so the binder compiles each once and reuses it."""

    score: int
    provider_class: Any
    name_match: Any
    rules: tuple[tuple[Rule, Any], ...]
    family: bool
    after_family: bool
    #: When ``rules`` decide the match alone (no IONameMatch, family hook or key checked
    #: after it), the same rules as tests (:func:`~.generic_keys.rule_tests`): the binder runs
    #: them inline, with no :class:`PassiveMatch` nor failure made for the candidates that
    #: fail (most of a boot's); None otherwise.
    tests: tuple[tuple[Test, Any], ...] | None
    #: The personality's family keys compiled by each family that met it (by family name).
    forms: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def compile_plan(personality: Mapping[str, Any]) -> MatchPlan:
    """The :class:`MatchPlan` for ``personality`` (pure; the personality is not kept)."""
    name_match = personality.get(keys.NAME_MATCH, _ABSENT)
    family = any(key not in _CONSUMED for key in personality)
    after_family = any(key in personality for key in _AFTER_FAMILY_KEYS)
    rules = compile_rules(personality)
    return MatchPlan(
        score=probe_score(personality),
        provider_class=personality.get(keys.PROVIDER_CLASS, _ABSENT),
        name_match=name_match,
        rules=rules,
        family=family,
        after_family=after_family,
        tests=rule_tests(rules) if name_match is _ABSENT and not family and not after_family
        else None)


def match_passive(personality: Mapping[str, Any], nub: IORegistryEntry, *,
                  registry: IORegistry | None = None,
                  resources: IORegistryEntry | Mapping[str, Any] | None = None,
                  check_provider_class: bool = True,
                  plan: MatchPlan | None = None,
                  view: families.FamilyView | None = None,
                  parent_match: bool = True) -> PassiveMatch:
    """Match ``personality`` against ``nub`` without side effects (``matchPassive``).

    :param personality: a personality or matching dictionary.
    :param nub: any registry entry (booted or built from a dump).
    :param registry: needed only for ``IOPathMatch``.
    :param resources: the IOResources entry (or its properties) against which to report
        ``waiting_for``.
    :param check_provider_class: False when the caller already filtered by class (the
        catalogue's lookup), as IOKit's ``kIOServiceClassDone``.
    :param plan: ``compile_plan(personality)``, when the caller keeps one; same result.
    :param view: ``FamilyView(nub)``, when the caller matches many personalities on ``nub`` in
        one pass (the nub's family facts are then read once); same result.
    :param parent_match: False to leave ``IOParentMatch`` out (its caller walks it).
    """
    if plan is None:
        plan = compile_plan(personality)
    if view is not None and view.nub is not nub:
        view = None
    name_matched = None
    failure = None
    if check_provider_class and plan.provider_class is not _ABSENT:
        failure = match_provider_class(plan.provider_class, nub)
    if failure is None and plan.name_match is not _ABSENT:
        name_matched, failure = match_name(plan.name_match, nub)
    if failure is None:
        for rule, wanted in plan.rules:
            failure = rule(wanted, nub, registry)
            if failure is not None:
                break
    if failure is not None:
        return PassiveMatch(False, plan.score, None, failure[0], failure[1])
    if plan.family or plan.after_family:
        return _match_after_generic(personality, plan, nub, registry, resources, name_matched,
                                    view, parent_match)
    return PassiveMatch(True, plan.score, name_matched)


def _match_after_generic(personality: Mapping[str, Any], plan: MatchPlan, nub: IORegistryEntry,
                         registry: IORegistry | None,
                         resources: IORegistryEntry | Mapping[str, Any] | None,
                         name_matched: str | None,
                         view: families.FamilyView | None,
                         parent_match: bool = True) -> PassiveMatch:
    """The family's ``matchPropertyTable``, then IOParentMatch, the dictionary IOLocationMatch
    and IOResourceMatch, for a personality that passed the generic keys."""
    score = plan.score
    failure = None
    needed: tuple[str, ...] = ()
    if plan.family:
        score, failure = _match_family(personality, plan, view or families.FamilyView(nub),
                                       score)
    if failure is None and plan.after_family:
        failure = ((_match_parent(personality, nub, registry) if parent_match else None)
                   or _match_location_dict(personality, nub))
        if failure is None:
            needed, failure = _match_resources(personality, nub)
    if failure is not None:
        return PassiveMatch(False, score, None, failure[0], failure[1])
    waiting = _missing_resources(needed, resources)
    return PassiveMatch(True, score, name_matched, resources=needed, waiting_for=waiting)


# -- after the generic keys ------------------------------------------------------------------
def _match_family(table: Mapping[str, Any], plan: MatchPlan, view: families.FamilyView,
                  score: int) -> tuple[int, Failure | None]:
    """The score after the family's ``matchPropertyTable``, or the failure."""
    rules = view.rules
    if rules is not None:
        form = plan.forms.get(rules.name)
        if form is None:
            form = plan.forms[rules.name] = rules.compile(table)
        matched, score, refusal = rules.match(form, view.facts(rules), score)
        if matched:
            return score, None
        return score, refusal or _family_failure(table, view.nub)
    nub = view.nub
    matcher = families.family_matcher_for(nub)
    if matcher is None:
        return score, None
    matched, new_score = matcher(nub, table, score)
    if not matched:
        return new_score, _family_failure(table, nub)
    return new_score, None


def _family_failure(table: Mapping[str, Any], nub: IORegistryEntry) -> Failure:
    """The key the family refused and why, with the values where the family can say them."""
    explain = families.family_explainer_for(nub)
    failure = explain(nub, table) if explain is not None else None
    if failure is not None:
        return failure
    return _family_key(table), f"the {nub.iokit_class_name} family's matchPropertyTable rejected it"


def _family_key(table: Mapping[str, Any]) -> str:
    unconsumed = [key for key in table if key not in _CONSUMED]
    return unconsumed[0] if len(unconsumed) == 1 else "matchPropertyTable"


def _match_parent(table: Mapping[str, Any], nub: IORegistryEntry,
                  registry: IORegistry | None) -> Failure | None:
    """``IOParentMatch``: some ancestor matches the table, and so on up for the table's own
    ``IOParentMatch``. As xnu's ``matchPassive`` does, the nearest ancestor matching a table's
    other keys is taken and the next table sought above it, one walk up for all of them (the
    nearest leaves the most ancestors above it, so none is missed). Matching each table
    against every ancestor, each then walking up for the next, cost depth ** nesting:
    IOParentMatch six deep on a machine forty levels deep took 95 s."""
    wanted = table.get(keys.PARENT_MATCH)
    if not isinstance(wanted, Mapping):
        return None
    ancestor = nub.get_parent_entry(keys.SERVICE_PLANE)
    while ancestor is not None:
        if match_passive(wanted, ancestor, registry=registry, parent_match=False).matched:
            wanted = wanted.get(keys.PARENT_MATCH)
            if not isinstance(wanted, Mapping):
                return None
        ancestor = ancestor.get_parent_entry(keys.SERVICE_PLANE)
    return keys.PARENT_MATCH, "no ancestor of the nub matches it"


#: Classes whose ``matchLocation`` answers for their clients (IOKit's default walks up and
#: returns NULL; PCI and platform devices return themselves).
_LOCATION_ANSWERERS = ("IOPCIDevice", "IOPlatformDevice")


def _match_location_dict(table: Mapping[str, Any], nub: IORegistryEntry) -> Failure | None:
    wanted = table.get(keys.LOCATION_MATCH)
    if not isinstance(wanted, Mapping):
        return None
    ancestor = nub.get_parent_entry(keys.SERVICE_PLANE)
    while ancestor is not None:
        if any(ancestor.meta_cast(name) for name in _LOCATION_ANSWERERS):
            if match_passive(wanted, ancestor, check_provider_class=True).matched:
                return None
            break
        ancestor = ancestor.get_parent_entry(keys.SERVICE_PLANE)
    return keys.LOCATION_MATCH, "the nub's matchLocation does not match the table"


def resource_names(value: Any) -> tuple[str, ...]:
    """The resource names an ``IOResourceMatch`` value lists (a string or a collection)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, frozenset)):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _match_resources(table: Mapping[str, Any],
                     nub: IORegistryEntry) -> tuple[tuple[str, ...], Failure | None]:
    """The resources that gate ``start`` on an ordinary nub; on IOResources itself, the
    failure when one is not published."""
    if keys.RESOURCE_MATCH not in table:
        return (), None
    names = resource_names(table[keys.RESOURCE_MATCH])
    if not nub.meta_cast(keys.RESOURCES_CLASS) and not nub.meta_cast("IOUserResources"):
        return names, None
    missing = [name for name in names if not nub.has_property(name)]
    if missing:
        return (), (keys.RESOURCE_MATCH, f"resource {missing[0]!r} is not published")
    return (), None


def _missing_resources(needed: tuple[str, ...],
                       resources: IORegistryEntry | Mapping[str, Any] | None) -> tuple[str, ...]:
    if not needed:
        return ()
    if resources is None:
        return needed
    props = resources if isinstance(resources, Mapping) else resources.properties
    return tuple(name for name in needed if name not in props)
