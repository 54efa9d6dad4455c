"""Why a recorded binding was refused: the failing key, the reason and its category.

:mod:`iokit_host.conformance` replays each binding a real Mac recorded; when passive matching
refuses one, this says why in terms a user can act on: the key, the provider's recorded values,
where each link of the provider's class chain came from, and whose shortfall it is
(:data:`CATEGORIES`): the knowledge (``unknown-ancestry``), the dump, which shows state from
after the match (``post-boot-state``), or the model and the knowledge it was given
(``class-mismatch``, ``key-mismatch``). IOKit has no counterpart: on a Mac nothing is refused
that was bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iokit_sdk import keys
from iokit_sdk.entry import IORegistryEntry

from iokit_host.matching.classes import ClassRegistry
from iokit_host.matching.families.pci import PCI_TUNNELLED, pci_failed_key
from iokit_host.matching.families.usb import usb_failed_key
from iokit_host.matching.generic_keys import property_tables

__all__ = ["CATEGORIES", "explain_rejection"]

#: Every rejection's category, closed. ``unknown-ancestry``, ``weak-ancestry`` and
#: ``post-boot-state`` say the knowledge or the dump fell short; ``class-mismatch`` and
#: ``key-mismatch`` say the model (or the public knowledge it was given) disagrees with what
#: the Mac did.
CATEGORIES: Mapping[str, str] = {
    "unknown-ancestry": "the provider's class chain is not known (no public table, no record "
                        "on the machine, no declaration), so IOProviderClass or a family's "
                        "name comparer cannot apply",
    "weak-ancestry": "the provider's class chain rests on a weaker source (the iOS class dump, "
                     "a reconstructed header, a plain class declaration) and does not reach "
                     "the IOProviderClass: the knowledge, more likely than the model, is short",
    "class-mismatch": "the provider's class chain, from sources that speak for the Mac, does "
                      "not reach the IOProviderClass",
    "post-boot-state": "the dump shows the provider as it was after the match (the booter's "
                       "root names; the wanted property on a nub beside the driver)",
    "key-mismatch": "a matching key refuses the provider's recorded properties",
}

#: Kinds of ancestry fact too weak to blame the model for a refusal they decide.
_WEAK_KINDS = frozenset({"ios-class-dump", "reconstructed-header", "header_nodecl"})


def explain_rejection(personality: Mapping[str, Any], provider: IORegistryEntry, key: str | None,
                      reason: str | None, classes: ClassRegistry) -> tuple[str, str, str]:
    """The key, reason and category of a refused binding. Names the exact key when the family
    hook refused (the generic result names only ``matchPropertyTable`` when several family
    keys were present)."""
    where = f"provider {provider.get_name()} ({provider.iokit_class_name})"
    category = "key-mismatch"
    known = classes.ancestry_known(provider.iokit_class_name)
    if key == keys.PROVIDER_CLASS:
        category, reason = _provider_class_reason(classes, provider.iokit_class_name, reason)
    if key == keys.NAME_MATCH and keys.NAME_MATCH in personality:
        reason = _name_reason(personality[keys.NAME_MATCH], provider, known)
        if not known and "only IORegistryEntry::compareName" in reason:
            category = "unknown-ancestry"
        if _BOOTER_ROOT_NOTE in reason:
            category = "post-boot-state"
    if key == keys.PROPERTY_MATCH and (holders := _clients_holding(personality, provider)):
        reason = f"{reason}; the provider's clients carry it: {', '.join(holders)}"
        category = "post-boot-state"
    family_key: str | None = None
    if provider.meta_cast("IOPCIDevice"):
        family_key = pci_failed_key(provider, personality)
        if family_key == keys.PCI_TUNNEL_COMPATIBLE:
            reason = f"{PCI_TUNNELLED} nub and the personality is not tunnel-compatible"
    elif any(provider.meta_cast(name) for name in _USB_NUBS):
        family_key = usb_failed_key(provider, personality,
                                    interface=not _is_usb_device(provider))
    if family_key is not None and (key is None or key not in personality):
        key = family_key
        if reason is None or "matchPropertyTable" in reason or "family" in reason:
            reason = _family_reason(family_key, personality, provider)
    return key or "matchPropertyTable", f"{where}: {reason or 'refused'}", category


def _provider_class_reason(classes: ClassRegistry, name: str, reason: str | None
                           ) -> tuple[str, str]:
    """Category and reason of an ``IOProviderClass`` refusal: the chain with each link's
    source, and which links nobody knows."""
    text = f"{reason}; {_chain_sources(classes, name)}"
    if not classes.ancestry_known(name):
        return "unknown-ancestry", (
            f"{text}; the ancestry of {_unknown_links(classes, name)} is unknown: the dump was "
            "not taken with ioreg -i and no public table, machine record or declaration "
            "(--classes) names it")
    weak = [f.class_name for link in classes.chain(name)
            if (f := classes.cited_fact(link)) is not None and f.kind in _WEAK_KINDS]
    if weak:
        return "weak-ancestry", (f"{text}; the links of {', '.join(weak)} come from a weaker "
                                 "source that may not hold for this Mac")
    return "class-mismatch", text


def _chain_sources(classes: ClassRegistry, name: str) -> str:
    """Where each link of ``name``'s chain came from, so a wrong fact can be traced."""
    chain = classes.chain(name)
    parts = []
    for link in chain[:-1]:
        defined = classes.lookup(link)
        if defined is not None and not getattr(defined, "synthesised", False):
            break  # a class defined in code: the rest of the chain is its code's
        fact = classes.cited_fact(link) if link not in classes.defaulted else None
        parts.append(f"{link} : {fact.superclass} from {fact.describe()}" if fact is not None
                     else f"{link} : IOService assumed")
    return "links: " + "; ".join(parts) if parts else "its chain is its code's"


def _unknown_links(classes: ClassRegistry, name: str) -> str:
    return ", ".join(link for link in classes.chain(name) if link in classes.defaulted)


def _name_reason(wanted: Any, provider: IORegistryEntry, known: bool) -> str:
    """Say which of the nub's names ``compareName`` tried. Device-tree, platform and ACPI nubs
    compare ``name``/``compatible``/``device_type``/``model`` (ACPI nubs also ``_HID``/``_CID``;
    platform and ACPI nubs then the entry name), other classes only the entry name
    (``IORegistryEntry::compareName``); see :mod:`iokit_host.matching.families.names`."""
    from iokit_host.matching import families
    from iokit_host.matching.families import names

    compare = families.name_comparer_for(provider)
    tried: tuple[str, ...] = ()
    if compare in (names.dt_compare_nub_name, names.platform_compare_name,
                   names.acpi_compare_name):
        tried = names.DT_NAME_KEYS
    if compare is names.acpi_compare_name:
        tried = (*tried, *names.ACPI_ID_KEYS)
    shown = []
    for key in tried:
        strings = list(names._strings(provider.get_property(key)))
        if strings:
            shown.append(f"{key} {strings[0]!r}" if len(strings) == 1 else f"{key} {strings!r}")
    if compare is not names.dt_compare_nub_name:
        tried = (*tried, "entry name")
        shown.append(f"entry name {provider.get_name()!r}")
    listed = [wanted] if isinstance(wanted, str) else list(wanted) if isinstance(
        wanted, (list, tuple)) else wanted
    reason = f"none of {listed!r} matches the nub's {'/'.join(tried)} ({', '.join(shown)})"
    if not known and compare is families.default_compare_name:
        others = [f"{key} {list(names._strings(provider.get_property(key)))!r}"
                  for key in names.DT_NAME_KEYS[1:] if provider.get_property(key) is not None]
        reason += (f"; the ancestry of {provider.iokit_class_name} is unknown, so only "
                   "IORegistryEntry::compareName (the entry name) applies"
                   + (f" -- a device-tree name comparer would also try {', '.join(others)}"
                      if others else ""))
    if provider.meta_cast("IOPlatformExpertDevice") and "ACPI" in listed:
        reason += _BOOTER_ROOT_NOTE
    return reason


#: Why a post-boot dump cannot show the name the platform expert matched on x86: Apple's i386
#: booter (boot-132; the same code in Chameleon's i386/libsaio/bootstruct.c and misc.c)
#: creates the device-tree root with getPlatformName()'s "ACPI" as both compatible and model,
#: and the values a dump shows were written after the platform expert matched (a public
#: VMware dump shows the same: IONameMatched "ACPI" under a root whose compatible is the model).
_BOOTER_ROOT_NOTE = ("; the booter creates the device-tree root with compatible and model "
                     "'ACPI' (boot-132 getPlatformName), so this dump shows the root's "
                     "names as they were after matching, not the ones matched")


def _clients_holding(personality: Mapping[str, Any], provider: IORegistryEntry) -> list[str]:
    """The provider's nubs (clients that are not drivers) carrying the first key of the first
    ``IOPropertyMatch`` table that the provider lacks, with their values: a dump can show a
    driver under the provider of the nub it matched."""
    tables = property_tables(personality.get(keys.PROPERTY_MATCH))
    missing = next((k for k, _ in tables[0] if not provider.has_property(k)),
                   None) if tables else None
    if missing is None:
        return []
    return [f"{client.get_name()} ({missing} {client.get_property(missing)!r})"
            for client in provider.get_child_entries(keys.SERVICE_PLANE)
            if client.has_property(missing) and not client.has_property(keys.MATCH_CATEGORY)]


_USB_NUBS = ("IOUSBDevice", "IOUSBInterface", "IOUSBHostDevice", "IOUSBHostInterface")


def _is_usb_device(nub: IORegistryEntry) -> bool:
    return nub.meta_cast("IOUSBDevice") or nub.meta_cast("IOUSBHostDevice")


def _family_reason(key: str, personality: Mapping[str, Any], provider: IORegistryEntry) -> str:
    if key in personality and key.startswith("IOPCI"):
        return f"{key} {personality[key]!r} does not match the nub's config registers"
    if key in personality:
        return f"{key} is {personality[key]!r}, the nub has {provider.get_property(key)!r}"
    return f"no QA1076 key combination applies ({key} is required and missing)"
