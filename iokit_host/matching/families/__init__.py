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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from iokit_sdk.entry import IORegistryEntry

__all__ = [
    "FamilyExplainer",
    "FamilyMatcher",
    "NameComparer",
    "default_compare_name",
    "family_explainer_for",
    "family_matcher_for",
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


def default_compare_name(nub: IORegistryEntry, wanted: str) -> str | None:
    """``IORegistryEntry::compareName``: the wanted string equals the entry's name."""
    return wanted if nub.get_name() == wanted else None


_Tables = tuple[dict[str, FamilyMatcher], dict[str, NameComparer], dict[str, FamilyExplainer]]


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
    return matchers, comparers, explainers


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
