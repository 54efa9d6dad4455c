"""Family matching: the per-class ``matchPropertyTable`` and ``compareName`` overrides of IOKit families.

In IOKit, generic matching (``IOService::matchInternal``) handles the generic keys and then, only
when the personality has keys it did not consume, calls the nub's ``matchPropertyTable``, which
a family overrides: ``IOPCIDevice`` compares ``IOPCIMatch`` against config registers, ``IOUSBDevice``
scores QA1076 key combinations. Name matching (``IONameMatch``) likewise defaults to the entry's
name but device-tree, PCI and platform nubs compare against ``name``/``compatible``/``device_type``
/``model`` (``IODTCompareNubName``).

Here a family registers a :data:`FamilyMatcher` and optionally a :data:`NameComparer` for a class
name; :func:`family_matcher_for` and :func:`name_comparer_for` walk the nub's class chain from the
most derived class, as a C++ virtual call would. The tables are built once from the family
modules; nothing is registered at run time.

Matching meets each personality with every nub of its class, so a family also offers
:class:`FamilyRules`: its keys compiled once per personality (kept in the matching plan) and
what it reads of a nub worked out once per matching pass (:class:`FamilyView`); the matcher and
explainer functions give the same answers from the raw personality.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from iokit_sdk.entry import IORegistryEntry

__all__ = [
    "FamilyExplainer",
    "FamilyMatcher",
    "FamilyRules",
    "FamilyView",
    "NameComparer",
    "default_compare_name",
    "family_explainer_for",
    "family_matcher_for",
    "family_rules_for",
    "name_comparer_for",
]

#: ``(nub, personality, score) -> (matched, score)``: the family's matchPropertyTable. It sees
#: the whole personality and returns the (possibly adjusted) probe score.
FamilyMatcher = Callable[[IORegistryEntry, Mapping[str, Any], int], tuple[bool, int]]
#: ``(nub, personality) -> (key, why) or None``: which key the family's matchPropertyTable
#: refused and a function that says why with the values; asked only after a refusal.
FamilyExplainer = Callable[[IORegistryEntry, Mapping[str, Any]],
                           "tuple[str, Callable[[], str]] | None"]
#: ``(nub, wanted) -> the string that matched, or None``: the family's compareName.
NameComparer = Callable[[IORegistryEntry, str], "str | None"]


#: ``(key, why)``: the key a family refused and a function that says why with the values.
FamilyFailure = tuple[str, Callable[[], str]]


@dataclass(frozen=True, slots=True)
class FamilyRules:
    """A family's matchPropertyTable on compiled forms.

    :param name: the family, naming its compiled form in a matching plan.
    :param compile: personality -> the form matching reads (parsed once per personality).
    :param facts: nub -> what matching reads of it (once per matching pass).
    :param match: ``(form, facts, score) -> (matched, score, failure)``: the family matcher's
        answer and, on a refusal, the explainer's.
    """

    name: str
    compile: Callable[[Mapping[str, Any]], Any]
    facts: Callable[[IORegistryEntry], Any]
    match: Callable[[Any, Any, int], tuple[bool, int, FamilyFailure | None]]


class FamilyView:
    """One nub's family and facts for one matching pass, worked out on first use.

    A pass makes one and hands it to every candidate's match; a new pass makes a new one, so
    a property changed between passes is read again."""

    __slots__ = ("_facts", "_rules", "nub")

    def __init__(self, nub: IORegistryEntry) -> None:
        self.nub = nub
        self._rules: Any = _UNREAD
        self._facts: Any = _UNREAD

    @property
    def rules(self) -> FamilyRules | None:
        rules = self._rules
        if rules is _UNREAD:
            rules = self._rules = family_rules_for(self.nub)
        found: FamilyRules | None = rules
        return found

    def facts(self, rules: FamilyRules) -> Any:
        facts = self._facts
        if facts is _UNREAD:
            facts = self._facts = rules.facts(self.nub)
        return facts

    def vendor_ids(self) -> tuple[int, ...] | None:
        """A PCI nub's vendor ids (registers 0x00 and 0x2C), for the catalogue's vendor index;
        None for a nub of another family."""
        rules = self.rules
        if rules is None or rules.name != "pci":
            return None
        registers = self.facts(rules).registers
        return registers.id & 0xFFFF, registers.subsystem & 0xFFFF

    def forget(self) -> None:
        """Read the nub again on next use (code ran that may have changed it)."""
        self._facts = _UNREAD


_UNREAD = object()


def default_compare_name(nub: IORegistryEntry, wanted: str) -> str | None:
    """``IORegistryEntry::compareName``: the wanted string equals the entry's name."""
    return wanted if nub.get_name() == wanted else None


_Tables = tuple[dict[str, FamilyMatcher], dict[str, NameComparer], dict[str, FamilyExplainer],
                dict[str, FamilyRules]]


def _tables() -> _Tables:
    # Family modules are imported here, lazily, so that importing this package costs nothing
    # until the first match. PCI matching uses the x86_64 rules (no +1000 bonus); see pci.py.
    from iokit_host.matching.families import names, pci, usb

    matchers: dict[str, FamilyMatcher] = {
        "IOPCIDevice": pci.pci_match_property_table,
        "IOUSBDevice": usb.usb_device_match_property_table,
        "IOUSBHostDevice": usb.usb_device_match_property_table,
        "IOUSBInterface": usb.usb_interface_match_property_table,
        "IOUSBHostInterface": usb.usb_interface_match_property_table,
    }
    comparers: dict[str, NameComparer] = {
        "IOPCIDevice": names.dt_compare_nub_name,
        "IOPlatformExpertDevice": names.dt_compare_nub_name,
        "IOPlatformDevice": names.platform_compare_name,
        "IOACPIPlatformDevice": names.acpi_compare_name,
        # Apple silicon's device-tree nubs (AppleARMPE publishes them): personalities name
        # their `compatible` strings (IONameMatch "wdt,s5l8960x"), and real dumps record
        # IONameMatched from it, so they compare as device-tree nubs do.
        "AppleARMIODevice": names.platform_compare_name,
        # PowerPC's Open Firmware nubs override compareName as IODTCompareNubName, then the
        # entry name: xnu drvAppleMacIO/AppleMacIO.cpp (AppleK2Device and the other Mac I/O
        # nubs inherit it), AppleGPIO MacIOGPIO.cpp, IOI2CFamily IOI2CService.cpp.
        "AppleMacIODevice": names.platform_compare_name,
        "MacIOGPIODevice": names.platform_compare_name,
        "IOI2CService": names.platform_compare_name,
    }
    device = partial(usb.usb_failure, interface=False)
    interface = partial(usb.usb_failure, interface=True)
    explainers: dict[str, FamilyExplainer] = {
        "IOPCIDevice": pci.pci_failure,
        "IOUSBDevice": device,
        "IOUSBHostDevice": device,
        "IOUSBInterface": interface,
        "IOUSBHostInterface": interface,
    }
    pci_rules = FamilyRules("pci", pci.compile_pci_table, pci.pci_facts, pci.pci_family_match)
    usb_device = FamilyRules("usb", _same_table, usb.usb_facts,
                             partial(usb.usb_family_match, interface=False))
    usb_interface = FamilyRules("usb", _same_table, usb.usb_facts,
                                partial(usb.usb_family_match, interface=True))
    rules = {"IOPCIDevice": pci_rules, "IOUSBDevice": usb_device, "IOUSBHostDevice": usb_device,
             "IOUSBInterface": usb_interface, "IOUSBHostInterface": usb_interface}
    return matchers, comparers, explainers, rules


def _same_table(table: Mapping[str, Any]) -> Mapping[str, Any]:
    return table  # USB keys are compared as they are: nothing to parse


_TABLES: _Tables | None = None


def _loaded() -> _Tables:
    global _TABLES  # a read-only cache of constant tables, not mutable state
    if _TABLES is None:
        _TABLES = _tables()
    return _TABLES


def family_matcher_for(nub: IORegistryEntry) -> FamilyMatcher | None:
    """The most-derived family matcher along the nub's class chain, or None (IOService's)."""
    matchers = _loaded()[0]
    for name in nub.class_chain:
        if name in matchers:
            return matchers[name]
    return None


def family_rules_for(nub: IORegistryEntry) -> FamilyRules | None:
    """The compiled-form rules of the family :func:`family_matcher_for` picks, or None."""
    matchers, rules = _loaded()[0], _loaded()[3]
    for name in nub.class_chain:
        if name in matchers:
            return rules.get(name)
    return None


def name_comparer_for(nub: IORegistryEntry) -> NameComparer:
    """The most-derived name comparer along the nub's class chain (default: entry name)."""
    comparers = _loaded()[1]
    for name in nub.class_chain:
        if name in comparers:
            return comparers[name]
    return default_compare_name


def family_explainer_for(nub: IORegistryEntry) -> FamilyExplainer | None:
    """The explainer of the family whose matcher :func:`family_matcher_for` picks, or None."""
    explainers = _loaded()[2]
    for name in nub.class_chain:
        if name in explainers:
            return explainers[name]
        if name in _loaded()[0]:
            return None
    return None
