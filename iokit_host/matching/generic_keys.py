"""The generic keys of ``IOService::matchInternal``, one check each.

Every check takes the personality's value and the nub and returns None when the key matches,
or a :data:`Failure`: the key and why. A boot rejects most candidates, and a returned tuple
costs a fraction of a raised exception (whose traceback the cyclic collector must also clear).
:mod:`iokit_host.matching.passive` runs them in order after IOProviderClass and IONameMatch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from iokit_sdk import keys
from iokit_sdk.values import SCALAR_TYPES, values_equal

from iokit_host.matching import families
from iokit_host.matching.families.names import compared_names

if TYPE_CHECKING:
    from iokit_sdk.entry import IORegistryEntry

    from iokit_host.registry import IORegistry

__all__ = ["BSD_KEYS", "Failure", "Rule", "Test", "bsd_rule", "compile_rules", "match_name",
           "match_provider_class", "property_tables", "property_unmatched", "rule_tests"]

BSD_KEYS = ("BSD Name", "BSD Major", "BSD Minor", "BSD Unit")

#: One key failed: the key, and why (or a function that says so, worked out when read).
Failure = tuple[str, "str | Callable[[], str]"]
Rule = Callable[[Any, "IORegistryEntry", "IORegistry | None"], "Failure | None"]
#: A rule's answer alone: None when the key matched, anything else when it failed.
Test = Callable[[Any, "IORegistryEntry", "IORegistry | None"], object]


def bsd_rule(key: str) -> Rule:
    """Plain equality against the nub's property of the same name (the ``IOBSD*`` keys)."""
    def rule(wanted: Any, nub: IORegistryEntry, _: IORegistry | None) -> Failure | None:
        if not values_equal(wanted, nub.get_property(key)):
            return key, f"{key} is {nub.get_property(key)!r}, not {wanted!r}"
        return None
    return rule


def match_provider_class(wanted: Any, nub: IORegistryEntry) -> Failure | None:
    """``IOProviderClass``: the nub's class is ``wanted`` or inherits from it (``metaCast``)."""
    if isinstance(wanted, str) and nub.meta_cast(wanted):
        return None
    return keys.PROVIDER_CLASS, (f"{nub.iokit_class_name} is not a {wanted} (class chain "
                                 f"{' > '.join(nub.class_chain)})")


def match_name(wanted: Any, nub: IORegistryEntry) -> tuple[str | None, Failure | None]:
    """The name ``IONameMatch`` matched, or the failure."""
    names = [wanted] if isinstance(wanted, str) else list(wanted) if isinstance(
        wanted, (list, tuple, frozenset)) else []
    compare = families.name_comparer_for(nub)
    for name in names:
        if isinstance(name, str) and (matched := compare(nub, name)) is not None:
            return matched, None
    # A PCI nub is matched by its name/compatible properties, not its entry name: say so.
    return None, (keys.NAME_MATCH, lambda: f"none of {names!r} matches: "
                  f"{compared_names(nub, compare)}")


def _match_location_string(wanted: Any, nub: IORegistryEntry,
                           _: IORegistry | None) -> Failure | None:
    if isinstance(wanted, str) and wanted != nub.get_location():
        return keys.LOCATION_MATCH, f"location is {nub.get_location()!r}, not {wanted!r}"
    return None


_NO_VALUE = object()  # a property the nub lacks

#: Concrete mapping types first: an ``isinstance`` against them is far cheaper than the ABC.
_MAPPINGS = (dict, MappingProxyType, Mapping)


def property_tables(wanted: Any) -> tuple[tuple[tuple[str, Any], ...], ...]:
    """``IOPropertyMatch`` as (key, value) pairs per table: one dictionary, or an array of
    them meaning any; anything else in the array can never match and is left out."""
    tables = [wanted] if isinstance(wanted, _MAPPINGS) else list(wanted) if isinstance(
        wanted, (list, tuple)) else []
    return tuple(tuple(t.items()) for t in tables if isinstance(t, _MAPPINGS))


def property_unmatched(tables: tuple[tuple[tuple[str, Any], ...], ...], nub: IORegistryEntry,
                       _: IORegistry | None) -> bool | None:
    """``IOPropertyMatch``'s test alone: None when one of ``tables`` matches, True when none
    does, and no :data:`Failure` made (the binder's inline pass reads no reason, and most
    candidates of a boot fail here)."""
    # The nub's properties merged with IOUserServiceProperties (_copyPropertiesForMatching),
    # inline: this runs once per candidate.
    props = nub._props
    user = props.get("IOUserServiceProperties")
    if user is not None and isinstance(user, _MAPPINGS):
        props = {**props, **user}
    for items in tables:
        for key, value in items:
            found = props.get(key, _NO_VALUE)
            kind = type(value)
            if kind is type(found) and kind in SCALAR_TYPES:  # values_equal's common case
                if value != found:
                    break
            elif found is _NO_VALUE or not values_equal(value, found):
                break
        else:
            return None
    return True


def _match_property(tables: tuple[tuple[tuple[str, Any], ...], ...], nub: IORegistryEntry,
                    registry: IORegistry | None) -> Failure | None:
    if property_unmatched(tables, nub, registry) is None:
        return None
    return keys.PROPERTY_MATCH, partial(_property_mismatch, tables,
                                        _properties_for_matching(nub))


def _properties_for_matching(nub: IORegistryEntry) -> Mapping[str, Any]:
    """The nub's properties merged with ``IOUserServiceProperties`` (``_copyPropertiesForMatching``)."""
    props = nub._props  # the host's own read: the public view would cost a proxy per candidate
    user = props.get("IOUserServiceProperties")
    return {**props, **user} if user is not None and isinstance(user, _MAPPINGS) else props


def _property_mismatch(tables: tuple[tuple[tuple[str, Any], ...], ...],
                       props: Mapping[str, Any]) -> str:
    for items in tables:
        for key, value in items:
            if key not in props:
                return f"the nub has no property {key!r}"
            if not values_equal(value, props[key]):
                return f"{key!r} is {props[key]!r}, not {value!r}"
    return "no property table in it matches"


def _match_property_exists(wanted: Any, nub: IORegistryEntry,
                           _: IORegistry | None) -> Failure | None:
    names = [wanted] if isinstance(wanted, str) else list(wanted) if isinstance(
        wanted, (list, tuple, frozenset)) else []
    if any(isinstance(n, str) and nub.has_property(n) for n in names):
        return None
    return keys.PROPERTY_EXISTS_MATCH, f"the nub has none of {names!r}"


def _match_path(wanted: Any, nub: IORegistryEntry,
                registry: IORegistry | None) -> Failure | None:
    if isinstance(wanted, str):
        if registry is not None:
            from iokit_host.registry import PathError, from_path
            try:
                if from_path(registry, wanted, keys.SERVICE_PLANE) is nub:
                    return None
            except PathError:
                pass
        if nub.get_property("IOPath") == wanted:
            return None
    return keys.PATH_MATCH, f"the nub is not at {wanted!r}"


def _match_entry_id(wanted: Any, nub: IORegistryEntry, _: IORegistry | None) -> Failure | None:
    if values_equal(wanted, nub.get_registry_entry_id()):
        return None
    return (keys.REGISTRY_ENTRY_ID_MATCH,
            f"entry id is {nub.get_registry_entry_id()!r}, not {wanted!r}")


def _match_service_count(wanted: Any, nub: IORegistryEntry,
                         _: IORegistry | None) -> Failure | None:
    count = sum(1 for client in nub.get_child_entries(keys.SERVICE_PLANE)
                if client.has_property(keys.MATCH_CATEGORY)
                and not getattr(client, "is_inactive", lambda: False)())
    if values_equal(wanted, count):
        return None
    return keys.MATCHED_SERVICE_COUNT_MATCH, f"{count} matched clients, not {wanted!r}"


def _as_is(value: Any) -> Any:
    return value


#: Per-key conversion of a personality's value when its plan is compiled.
_PREPARE: Mapping[str, Callable[[Any], Any]] = MappingProxyType(
    {keys.PROPERTY_MATCH: property_tables})

_RULES: tuple[tuple[str, Rule], ...] = (
    (keys.LOCATION_MATCH, _match_location_string),
    (keys.PROPERTY_MATCH, _match_property),
    (keys.PROPERTY_EXISTS_MATCH, _match_property_exists),
    (keys.PATH_MATCH, _match_path),
    (keys.REGISTRY_ENTRY_ID_MATCH, _match_entry_id),
    (keys.MATCHED_SERVICE_COUNT_MATCH, _match_service_count),
)


#: Rules with a twin that says only whether the key failed (True) or not (None).
_TESTS: dict[Rule, Test] = {_match_property: property_unmatched}


def rule_tests(rules: tuple[tuple[Rule, Any], ...]) -> tuple[tuple[Test, Any], ...]:
    """``rules`` with each rule that has one replaced by its test (:func:`property_unmatched`):
    the same answer, None or not, for less."""
    return tuple((_TESTS.get(rule, rule), wanted) for rule, wanted in rules)


def compile_rules(personality: Mapping[str, Any]) -> tuple[tuple[Rule, Any], ...]:
    """The checks ``personality``'s keys call for, in ``matchInternal`` order, each with its
    (prepared) value; IOProviderClass and IONameMatch are the caller's, as they come first."""
    rules = tuple((rule, _PREPARE.get(key, _as_is)(personality[key]))
                  for key, rule in _RULES if key in personality)
    return rules + tuple((bsd_rule(key), personality[key])
                         for key in BSD_KEYS if key in personality)
