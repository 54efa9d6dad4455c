"""Passive matching: does one personality match one registry entry, and with what score?

This is IOKit's ``IOService::matchPassive`` and ``matchInternal`` as a pure function: no
registry change, no kext load, no driver call, so ``iokit explain`` and the conformance
check can run it on any entry, booted or not. The generic keys are checked in
``matchInternal``'s order and the first failure ends the match, naming the key and why.
Then, only when the personality has keys the generic code did not consume, the family's
``matchPropertyTable`` runs (it may change the score); then ``IOParentMatch`` and the
dictionary form of ``IOLocationMatch``. ``IOResourceMatch`` is checked here only on an
``IOResources`` nub; on any other nub it names resources that gate ``start`` (binding parks
the candidate until they are published).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iokit_sdk import keys
from iokit_sdk.values import values_equal

from iokit_host import families
from iokit_host.catalogue import probe_score

if TYPE_CHECKING:
    from iokit_sdk.entry import IORegistryEntry

    from iokit_host.registry import IORegistry

__all__ = [
    "BOOKKEEPING_KEYS",
    "GENERIC_KEYS",
    "PassiveMatch",
    "match_passive",
    "resource_names",
]

BSD_KEYS = ("BSD Name", "BSD Major", "BSD Minor", "BSD Unit")

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


@dataclass(frozen=True, slots=True)
class PassiveMatch:
    """The outcome of passive matching.

    :param matched: True when every key matched.
    :param score: the probe score after family matching (the personality's own when the
        family hook did not run).
    :param name_matched: the string ``IONameMatch`` matched (``IONameMatched``), or None.
    :param failed_key: the first key that failed, or None.
    :param reason: why it failed, in one sentence, or None.
    :param resources: resources ``IOResourceMatch`` names on a non-IOResources nub; the
        driver starts only once all are published.
    :param waiting_for: those of ``resources`` not published on the ``resources`` entry given
        to :func:`match_passive` (all of them when none was given).
    """

    matched: bool
    score: int
    name_matched: str | None = None
    failed_key: str | None = None
    reason: str | None = None
    resources: tuple[str, ...] = ()
    waiting_for: tuple[str, ...] = ()


class _Fail(Exception):
    """Internal: one key failed; carries the key and the reason."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason


def match_passive(personality: Mapping[str, Any], nub: IORegistryEntry, *,
                  registry: IORegistry | None = None,
                  resources: IORegistryEntry | Mapping[str, Any] | None = None,
                  check_provider_class: bool = True) -> PassiveMatch:
    """Match ``personality`` against ``nub`` without side effects (``matchPassive``).

    :param personality: a personality or matching dictionary.
    :param nub: any registry entry (booted or built from a dump).
    :param registry: needed only for ``IOPathMatch``.
    :param resources: the IOResources entry (or its properties) against which to report
        ``waiting_for``.
    :param check_provider_class: False when the caller already filtered by class (the
        catalogue's lookup), as IOKit's ``kIOServiceClassDone``.
    """
    score = probe_score(personality)
    try:
        name_matched = _match_generic(personality, nub, registry, check_provider_class)
        unconsumed = any(key not in _CONSUMED for key in personality)
        if unconsumed:
            score = _match_family(personality, nub, score)
        _match_parent(personality, nub, registry)
        _match_location_dict(personality, nub)
        needed = _match_resources(personality, nub)
    except _Fail as failure:
        return PassiveMatch(False, score, None, failure.key, failure.reason)
    waiting = _missing_resources(needed, resources)
    return PassiveMatch(True, score, name_matched, resources=needed, waiting_for=waiting)


# -- matchInternal --------------------------------------------------------------------------
def _match_generic(table: Mapping[str, Any], nub: IORegistryEntry,
                   registry: IORegistry | None, check_provider_class: bool) -> str | None:
    if check_provider_class and keys.PROVIDER_CLASS in table:
        _match_provider_class(table[keys.PROVIDER_CLASS], nub)
    name_matched = None
    if keys.NAME_MATCH in table:
        name_matched = _match_name(table[keys.NAME_MATCH], nub)
    for key, rule in _RULES:
        if key in table:
            rule(table[key], nub, registry)
    for key in BSD_KEYS:
        if key in table and not values_equal(table[key], nub.get_property(key)):
            raise _Fail(key, f"{key} is {nub.get_property(key)!r}, not {table[key]!r}")
    return name_matched


def _match_provider_class(wanted: Any, nub: IORegistryEntry) -> None:
    if not isinstance(wanted, str) or not nub.meta_cast(wanted):
        raise _Fail(keys.PROVIDER_CLASS,
                    f"{nub.iokit_class_name} is not a {wanted} (class chain "
                    f"{' > '.join(nub.class_chain)})")


def _match_name(wanted: Any, nub: IORegistryEntry) -> str:
    names = [wanted] if isinstance(wanted, str) else list(wanted) if isinstance(
        wanted, (list, tuple, frozenset)) else []
    compare = families.name_comparer_for(nub)
    for name in names:
        if isinstance(name, str) and (matched := compare(nub, name)) is not None:
            return matched
    raise _Fail(keys.NAME_MATCH, f"none of {names!r} matches the name {nub.get_name()!r}")


def _match_location_string(wanted: Any, nub: IORegistryEntry, _: IORegistry | None) -> None:
    if isinstance(wanted, str) and wanted != nub.get_location():
        raise _Fail(keys.LOCATION_MATCH,
                    f"location is {nub.get_location()!r}, not {wanted!r}")


def _match_property(wanted: Any, nub: IORegistryEntry, _: IORegistry | None) -> None:
    tables = [wanted] if isinstance(wanted, Mapping) else list(wanted) if isinstance(
        wanted, (list, tuple)) else []
    props = _properties_for_matching(nub)
    for table in tables:
        if isinstance(table, Mapping) and all(
                key in props and values_equal(value, props[key]) for key, value in table.items()):
            return
    raise _Fail(keys.PROPERTY_MATCH, _property_mismatch(tables, props))


def _properties_for_matching(nub: IORegistryEntry) -> Mapping[str, Any]:
    """The nub's properties merged with ``IOUserServiceProperties`` (``_copyPropertiesForMatching``)."""
    props = nub.properties
    user = props.get("IOUserServiceProperties")
    return {**props, **user} if isinstance(user, Mapping) else props


def _property_mismatch(tables: list[Any], props: Mapping[str, Any]) -> str:
    for table in tables:
        if isinstance(table, Mapping):
            for key, value in table.items():
                if key not in props:
                    return f"the nub has no property {key!r}"
                if not values_equal(value, props[key]):
                    return f"{key!r} is {props[key]!r}, not {value!r}"
    return "no property table in it matches"


def _match_property_exists(wanted: Any, nub: IORegistryEntry, _: IORegistry | None) -> None:
    names = [wanted] if isinstance(wanted, str) else list(wanted) if isinstance(
        wanted, (list, tuple, frozenset)) else []
    if not any(isinstance(n, str) and nub.has_property(n) for n in names):
        raise _Fail(keys.PROPERTY_EXISTS_MATCH, f"the nub has none of {names!r}")


def _match_path(wanted: Any, nub: IORegistryEntry, registry: IORegistry | None) -> None:
    if isinstance(wanted, str):
        if registry is not None:
            from iokit_host.registry import PathError, from_path
            try:
                if from_path(registry, wanted, keys.SERVICE_PLANE) is nub:
                    return
            except PathError:
                pass
        if nub.get_property("IOPath") == wanted:
            return
    raise _Fail(keys.PATH_MATCH, f"the nub is not at {wanted!r}")


def _match_entry_id(wanted: Any, nub: IORegistryEntry, _: IORegistry | None) -> None:
    if not values_equal(wanted, nub.get_registry_entry_id()):
        raise _Fail(keys.REGISTRY_ENTRY_ID_MATCH,
                    f"entry id is {nub.get_registry_entry_id()!r}, not {wanted!r}")


def _match_service_count(wanted: Any, nub: IORegistryEntry, _: IORegistry | None) -> None:
    count = sum(1 for client in nub.get_child_entries(keys.SERVICE_PLANE)
                if client.has_property(keys.MATCH_CATEGORY)
                and not getattr(client, "is_inactive", lambda: False)())
    if not values_equal(wanted, count):
        raise _Fail(keys.MATCHED_SERVICE_COUNT_MATCH,
                    f"{count} matched clients, not {wanted!r}")


_Rule = Callable[[Any, "IORegistryEntry", "IORegistry | None"], None]
_RULES: tuple[tuple[str, _Rule], ...] = (
    (keys.LOCATION_MATCH, _match_location_string),
    (keys.PROPERTY_MATCH, _match_property),
    (keys.PROPERTY_EXISTS_MATCH, _match_property_exists),
    (keys.PATH_MATCH, _match_path),
    (keys.REGISTRY_ENTRY_ID_MATCH, _match_entry_id),
    (keys.MATCHED_SERVICE_COUNT_MATCH, _match_service_count),
)


# -- after the generic keys ------------------------------------------------------------------
def _match_family(table: Mapping[str, Any], nub: IORegistryEntry, score: int) -> int:
    matcher = families.family_matcher_for(nub)
    if matcher is None:
        return score
    matched, new_score = matcher(nub, table, score)
    if not matched:
        raise _Fail(_family_key(table), f"the {nub.iokit_class_name} family's "
                    "matchPropertyTable rejected it")
    return new_score


def _family_key(table: Mapping[str, Any]) -> str:
    unconsumed = [key for key in table if key not in _CONSUMED]
    return unconsumed[0] if len(unconsumed) == 1 else "matchPropertyTable"


def _match_parent(table: Mapping[str, Any], nub: IORegistryEntry,
                  registry: IORegistry | None) -> None:
    wanted = table.get(keys.PARENT_MATCH)
    if not isinstance(wanted, Mapping):
        return
    ancestor = nub.get_parent_entry(keys.SERVICE_PLANE)
    while ancestor is not None:
        if match_passive(wanted, ancestor, registry=registry).matched:
            return
        ancestor = ancestor.get_parent_entry(keys.SERVICE_PLANE)
    raise _Fail(keys.PARENT_MATCH, "no ancestor of the nub matches it")


#: Classes whose ``matchLocation`` answers for their clients (IOKit's default walks up and
#: returns NULL; PCI and platform devices return themselves).
_LOCATION_ANSWERERS = ("IOPCIDevice", "IOPlatformDevice")


def _match_location_dict(table: Mapping[str, Any], nub: IORegistryEntry) -> None:
    wanted = table.get(keys.LOCATION_MATCH)
    if not isinstance(wanted, Mapping):
        return
    ancestor = nub.get_parent_entry(keys.SERVICE_PLANE)
    while ancestor is not None:
        if any(ancestor.meta_cast(name) for name in _LOCATION_ANSWERERS):
            if match_passive(wanted, ancestor, check_provider_class=True).matched:
                return
            break
        ancestor = ancestor.get_parent_entry(keys.SERVICE_PLANE)
    raise _Fail(keys.LOCATION_MATCH, "the nub's matchLocation does not match the table")


def resource_names(value: Any) -> tuple[str, ...]:
    """The resource names an ``IOResourceMatch`` value lists (a string or a collection)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, frozenset)):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _match_resources(table: Mapping[str, Any], nub: IORegistryEntry) -> tuple[str, ...]:
    if keys.RESOURCE_MATCH not in table:
        return ()
    names = resource_names(table[keys.RESOURCE_MATCH])
    if not nub.meta_cast(keys.RESOURCES_CLASS) and not nub.meta_cast("IOUserResources"):
        return names
    missing = [name for name in names if not nub.has_property(name)]
    if missing:
        raise _Fail(keys.RESOURCE_MATCH, f"resource {missing[0]!r} is not published")
    return ()


def _missing_resources(needed: tuple[str, ...],
                       resources: IORegistryEntry | Mapping[str, Any] | None) -> tuple[str, ...]:
    if not needed:
        return ()
    if resources is None:
        return needed
    props = resources if isinstance(resources, Mapping) else resources.properties
    return tuple(name for name in needed if name not in props)
