"""IOCatalogue: the driver personalities the kernel knows, indexed by ``IOProviderClass``.

As xnu's ``gIOCatalogue`` does, one catalogue keeps, per provider class name, the personalities
in insertion order; a personality without a string ``IOProviderClass`` is silently not added,
and one that is exactly equal to a personality already there is dropped as a duplicate. Looking
up the candidates for a nub (``findDrivers``) walks the nub's class chain from the most derived
class up to ``IOService`` and orders the result by ``IOProbeScore`` descending, FIFO among equal
scores; so a personality for ``OSObject`` or ``IORegistryEntry`` is never a candidate.

Each change bumps :attr:`IOCatalogue.generation`, which a matching pass compares to notice
drivers added while it ran.

PCI personalities are also indexed by the vendor ids their keys pin down (IOPCIFamily's tables,
kmod's ``pci:v...`` aliases): all of a Mac's PCI drivers are ``IOPCIDevice`` personalities, so the
class index cannot narrow them, but a matching pass on a PCI nub need not try those made for
other vendors (:meth:`IOCatalogue.find_candidates`). ``findDrivers`` itself still lists them all.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from iokit_sdk import keys
from iokit_sdk.values import equality_key, values_equal

if TYPE_CHECKING:
    from iokit_sdk.entry import IORegistryEntry

    from iokit_host.kext.bundle import KextBundle

__all__ = ["CatalogueEntry", "IOCatalogue", "probe_score"]

_STOP_CLASS = "IOService"
#: The keys PCI matching reads (families.pci.PCI_KEYS, without importing the family early).
_PCI_KEYS = (keys.PCI_MATCH, keys.PCI_PRIMARY_MATCH, keys.PCI_SECONDARY_MATCH,
             keys.PCI_CLASS_MATCH)


def probe_score(table: Mapping[str, Any]) -> int:
    """``IOProbeScore`` as IOKit reads it: 0 when missing or not a number; SInt32 wrap-around."""
    value = table.get(keys.PROBE_SCORE, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= (1 << 31) else value


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One personality in the catalogue.

    :param name: the personality's name in ``IOKitPersonalities``.
    :param table: the personality dictionary (read-only; matching works on copies).
    :param bundle: the kext it came from; its package is imported only when this matches.
    :param provider_class: ``IOProviderClass``.
    :param score: ``IOProbeScore`` as IOKit reads it (:func:`probe_score`).
    :param category: ``IOMatchCategory``, or ``IODefaultMatchCategory``.
    :param seq: insertion order, which breaks ties among equal scores.
    """

    name: str
    table: Mapping[str, Any]
    bundle: KextBundle | None
    provider_class: str
    score: int
    category: str
    seq: int

    @property
    def bundle_id(self) -> str | None:
        if self.bundle is not None:
            return self.bundle.bundle_id
        value = self.table.get(keys.BUNDLE_IDENTIFIER)
        return value if isinstance(value, str) else None

    @property
    def io_class(self) -> str | None:
        value = self.table.get(keys.CLASS)
        return value if isinstance(value, str) else None


class IOCatalogue:
    """Personalities by provider class, with a generation counter. One per host."""

    def __init__(self) -> None:
        self._by_provider: dict[str, list[CatalogueEntry]] = {}
        # Personalities by the hash of their equality_key, so the "no two equal personalities"
        # rule of addDrivers costs a hash per add instead of a comparison with every entry of
        # the class (the hash, not the key: equal hashes are confirmed with values_equal).
        self._by_key: dict[int, list[CatalogueEntry]] = {}
        self._seq = itertools.count()
        self.generation = 0
        # Per provider class: PCI personalities by each vendor id their keys allow (those
        # whose keys bound no vendor are not here), and how many entries are indexed.
        self._by_vendor: dict[str, dict[int, list[CatalogueEntry]]] = {}
        self._vendor_bound: dict[str, set[int]] = {}
        #: find_drivers' answers by class chain, for the generation they were found in: a
        #: boot asks once per nub, and nubs of one class are many.
        self._found: dict[tuple[str, ...], list[CatalogueEntry]] = {}
        self._found_in = -1

    def add_bundle(self, bundle: KextBundle) -> list[CatalogueEntry]:
        """Add every personality of ``bundle`` (``addDrivers``); returns those kept."""
        return self.add_personalities(bundle.personalities.items(), bundle=bundle)

    def add_personalities(self, personalities: Iterable[tuple[str, Mapping[str, Any]]], *,
                          bundle: KextBundle | None = None) -> list[CatalogueEntry]:
        added: list[CatalogueEntry] = []
        try:
            added += [entry for name, table in personalities
                      if (entry := self._add_one(name, table, bundle)) is not None]
        finally:  # what was added before a raise is in the catalogue: find_drivers' answers
            self.generation += 1  # kept for the generation before are stale
        return added

    def _add_one(self, name: str, table: Mapping[str, Any],
                 bundle: KextBundle | None) -> CatalogueEntry | None:
        provider_class = table.get(keys.PROVIDER_CLASS)
        if not isinstance(provider_class, str):
            return None
        twins = self._by_key.setdefault(hash(equality_key(table)), [])
        if any(values_equal(existing.table, table) for existing in twins):
            return None
        category = table.get(keys.MATCH_CATEGORY)
        entry = CatalogueEntry(
            name=name, table=MappingProxyType(dict(table)), bundle=bundle,
            provider_class=provider_class, score=probe_score(table),
            category=category if isinstance(category, str) else keys.DEFAULT_MATCH_CATEGORY,
            seq=next(self._seq))
        self._by_provider.setdefault(provider_class, []).append(entry)
        twins.append(entry)
        self._index_vendors(entry)
        return entry

    def _index_vendors(self, entry: CatalogueEntry) -> None:
        table = entry.table
        if not any(key in table for key in _PCI_KEYS):
            return
        from iokit_host.matching.families.pci import compile_pci_table

        vendors = compile_pci_table(table).vendors
        if vendors is None:
            return
        by_vendor = self._by_vendor.setdefault(entry.provider_class, {})
        for vendor in vendors:
            by_vendor.setdefault(vendor, []).append(entry)
        self._vendor_bound.setdefault(entry.provider_class, set()).add(entry.seq)

    def remove_bundle(self, bundle_id: str) -> int:
        """Remove every personality of one kext (``removeDrivers``); returns how many."""
        removed = 0
        for provider_class, entries in self._by_provider.items():
            kept = [e for e in entries if e.bundle_id != bundle_id]
            removed += len(entries) - len(kept)
            self._by_provider[provider_class] = kept
        for key, twins in list(self._by_key.items()):
            self._by_key[key] = [e for e in twins if e.bundle_id != bundle_id]
        if removed:
            self.generation += 1
            self._by_vendor.clear()
            self._vendor_bound.clear()
            for entries in self._by_provider.values():
                for entry in entries:
                    self._index_vendors(entry)
        return removed

    def find_drivers(self, nub: IORegistryEntry) -> list[CatalogueEntry]:
        """Candidates for ``nub``, best first (``findDrivers``).

        Invariant of the result: descending score; among equal scores, personalities for the
        more derived provider class first, then insertion order (a stable sort keeps that).
        """
        chain = nub.class_chain
        if self._found_in != self.generation:
            self._found.clear()
            self._found_in = self.generation
        found = self._found.get(chain)
        if found is None:
            found = self._found[chain] = self._drivers_for(chain)
        return list(found)  # the caller's to change

    def _drivers_for(self, chain: tuple[str, ...]) -> list[CatalogueEntry]:
        found: list[CatalogueEntry] = []
        by_provider = self._by_provider
        for class_name in chain:
            entries = by_provider.get(class_name)
            if entries:
                found.extend(entries)
            if class_name == _STOP_CLASS:
                break
        if len(found) > 1:
            found.sort(key=_descending_score)
        return found

    def find_candidates(self, nub: IORegistryEntry,
                        vendors: tuple[int, ...] | None = None) -> list[CatalogueEntry]:
        """:meth:`find_drivers`, less the PCI personalities whose keys allow none of
        ``vendors`` (a PCI nub's vendor ids in its registers 0x00 and 0x2C), which cannot
        match it; same order. ``vendors`` None: every candidate."""
        if vendors is None or not self._vendor_bound:
            return self.find_drivers(nub)
        found: list[CatalogueEntry] = []
        by_provider = self._by_provider
        for class_name in nub.class_chain:
            entries = by_provider.get(class_name)
            if entries:
                bound = self._vendor_bound.get(class_name)
                found.extend(entries if not bound else
                             self._for_vendors(class_name, entries, bound, vendors))
            if class_name == _STOP_CLASS:
                break
        if len(found) > 1:
            found.sort(key=_descending_score)
        return found

    def _for_vendors(self, class_name: str, entries: list[CatalogueEntry], bound: set[int],
                     vendors: tuple[int, ...]) -> list[CatalogueEntry]:
        """``entries`` (insertion order) less the vendor-bound ones for other vendors."""
        by_vendor = self._by_vendor[class_name]
        chosen = {e.seq: e for vendor in vendors for e in by_vendor.get(vendor, ())}
        if len(bound) == len(entries):  # all bound: the buckets alone, in insertion order
            return [chosen[seq] for seq in sorted(chosen)]
        return [e for e in entries if e.seq not in bound or e.seq in chosen]

    def __iter__(self) -> Iterator[CatalogueEntry]:
        for entries in self._by_provider.values():
            yield from entries

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._by_provider.values())

    def provider_classes(self) -> tuple[str, ...]:
        return tuple(sorted(k for k, v in self._by_provider.items() if v))


def _descending_score(entry: CatalogueEntry) -> int:
    return -entry.score
