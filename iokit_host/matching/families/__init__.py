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
from typing import Any

from iokit_sdk.entry import IORegistryEntry

__all__ = [
    "FamilyMatcher",
    "NameComparer",
    "default_compare_name",
    "family_matcher_for",
    "name_comparer_for",
]

#: ``(nub, personality, score) -> (matched, score)``: the family's matchPropertyTable. It sees
#: the whole personality and returns the (possibly adjusted) probe score.
FamilyMatcher = Callable[[IORegistryEntry, Mapping[str, Any], int], tuple[bool, int]]
#: ``(nub, wanted) -> the string that matched, or None``: the family's compareName.
NameComparer = Callable[[IORegistryEntry, str], "str | None"]


def default_compare_name(nub: IORegistryEntry, wanted: str) -> str | None:
    """``IORegistryEntry::compareName``: the wanted string equals the entry's name."""
    return wanted if nub.get_name() == wanted else None


def _tables() -> tuple[dict[str, FamilyMatcher], dict[str, NameComparer]]:
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
    return matchers, comparers


_TABLES: tuple[dict[str, FamilyMatcher], dict[str, NameComparer]] | None = None


def _loaded() -> tuple[dict[str, FamilyMatcher], dict[str, NameComparer]]:
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
