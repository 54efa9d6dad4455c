"""IOCatalogue: the driver personalities the kernel knows, indexed by ``IOProviderClass``.

As xnu's ``gIOCatalogue`` does, one catalogue keeps, per provider class name, the personalities
in insertion order; a personality without a string ``IOProviderClass`` is silently not added,
and one that is exactly equal to a personality already there is dropped as a duplicate. Looking
up the candidates for a nub (``findDrivers``) walks the nub's class chain from the most derived
class up to ``IOService`` and orders the result by ``IOProbeScore`` descending, FIFO among equal
scores; so a personality for ``OSObject`` or ``IORegistryEntry`` is never a candidate.

Each change bumps :attr:`IOCatalogue.generation`, which a matching pass compares to notice
drivers added while it ran.
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

    def add_bundle(self, bundle: KextBundle) -> list[CatalogueEntry]:
        """Add every personality of ``bundle`` (``addDrivers``); returns those kept."""
        return self.add_personalities(bundle.personalities.items(), bundle=bundle)

    def add_personalities(self, personalities: Iterable[tuple[str, Mapping[str, Any]]], *,
                          bundle: KextBundle | None = None) -> list[CatalogueEntry]:
        added = [entry for name, table in personalities
                 if (entry := self._add_one(name, table, bundle)) is not None]
        self.generation += 1
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
        return entry

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
        return removed

    def find_drivers(self, nub: IORegistryEntry) -> list[CatalogueEntry]:
        """Candidates for ``nub``, best first (``findDrivers``).

        Invariant of the result: descending score; among equal scores, personalities for the
        more derived provider class first, then insertion order (a stable sort keeps that).
        """
        found: list[CatalogueEntry] = []
        by_provider = self._by_provider
        for class_name in nub.class_chain:
            entries = by_provider.get(class_name)
            if entries:
                found.extend(entries)
            if class_name == _STOP_CLASS:
                break
        if len(found) > 1:
            found.sort(key=_descending_score)
        return found

    def __iter__(self) -> Iterator[CatalogueEntry]:
        for entries in self._by_provider.values():
            yield from entries

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._by_provider.values())

    def provider_classes(self) -> tuple[str, ...]:
        return tuple(sorted(k for k, v in self._by_provider.items() if v))


def _descending_score(entry: CatalogueEntry) -> int:
    return -entry.score
