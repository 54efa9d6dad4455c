"""Damage in an IORegistryExplorer archive: what reading it tolerated, one warning per kind.

No IOKit counterpart (IORegistryExplorer refuses a damaged file whole). Archives people attach
have passed through mail, zips and editors; the reader keeps every entry it can and reports each
kind of damage once, with how often it occurred and the first object and key it occurred at
(``$objects[1234].properties``). With ``strict`` the first damage refuses the archive instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from iokit_host.errors import Diagnostic, Severity
from iokit_host.explorer_archive.errors import ArchiveInvalid

__all__ = ["BAD_CLASS_CHAIN", "BAD_ENTRY", "BAD_FIELD", "BAD_LINK", "BAD_PROPERTIES",
           "LINKS_TOO_LARGE", "PROPERTIES_TOO_LARGE", "TOO_LARGE", "ArchiveDamage",
           "ArchiveDamageKind"]


@dataclass(frozen=True, slots=True)
class ArchiveDamageKind:
    """One kind of damage: its stable reference, what it is, what the reader did about it."""

    reference: str
    what: str
    outcome: str
    hint: str


_SAVE_AGAIN = "save the registry again in IORegistryExplorer and attach the file unedited"
BAD_ENTRY = ArchiveDamageKind(
    "ioreg-archive-bad-entry", "registry entries that cannot be read (no name or class chain, "
    "or not an entry at all)", "those entries dropped, with their links", _SAVE_AGAIN)
BAD_LINK = ArchiveDamageKind(
    "ioreg-archive-bad-link", "plane links to entries the archive does not hold, that "
    "would put an entry below itself or in a plane with no name, or whose second parents "
    "would show a plane along too many paths, or in planes past the 64 an entry may name",
    "those links dropped",
    _SAVE_AGAIN)
BAD_CLASS_CHAIN = ArchiveDamageKind(
    "ioreg-archive-bad-class-chain", "class chains (an entry's inheritance) that name a class "
    "twice, so that it would be its own ancestor, or run longer than 256 classes",
    "those links left out; the classes keep the superclass first recorded", _SAVE_AGAIN)
BAD_PROPERTIES = ArchiveDamageKind(
    "ioreg-archive-bad-properties", "property tables or values that cannot be read",
    "those properties dropped, the entries kept", _SAVE_AGAIN)
BAD_FIELD = ArchiveDamageKind(
    "ioreg-archive-bad-field", "entry fields (state, busy count, bundle, name, location, "
    "plane names) that cannot be read or are longer than IOKit gives, or name more planes "
    "than any registry has",
    "those fields left at their defaults (the first 64 planes kept)", _SAVE_AGAIN)
TOO_LARGE = ArchiveDamageKind(
    "ioreg-archive-too-large", "more entries than any registry holds",
    "the rest was not read", "a registry holds a few thousand entries")
LINKS_TOO_LARGE = ArchiveDamageKind(
    "ioreg-archive-too-many-links", "lists of plane links that would take the archive past "
    "the links any registry holds (an array of links shared by many entries)",
    "those links left out", "a registry's entries hold one or two links each: save the "
    "registry again in IORegistryExplorer")
MISPLACED_RESOURCES = ArchiveDamageKind(
    "ioreg-archive-misplaced-resources", "IOResources linked below another entry than the "
    "platform device", "moved back under the platform device, with its subtree",
    "IOKit attaches IOResources to the platform-expert device: save the registry again")
PROPERTIES_TOO_LARGE = ArchiveDamageKind(
    "ioreg-archive-properties-too-large", "entries whose property tables would take the "
    "archive's properties past what any registry holds", "those entries kept without their "
    "properties", "a registry's entries hold a few tens of thousands of property items")


@dataclass(slots=True)
class _Tally:
    count: int
    where: str
    detail: str


class ArchiveDamage:
    """The damage met while reading one archive (see the module doc)."""

    __slots__ = ("_tallies", "source", "strict")

    def __init__(self, source: str, *, strict: bool) -> None:
        self.source = source
        self.strict = strict
        self._tallies: dict[ArchiveDamageKind, _Tally] = {}

    def note(self, kind: ArchiveDamageKind, where: str, detail: str) -> None:
        """Record one occurrence at ``where`` (object and key); strict: refuse the archive."""
        if self.strict:
            raise ArchiveInvalid(detail, file=self.source, key=where,
                                 hint=f"{kind.hint}; strict mode refuses a damaged archive, "
                                      f"without it the rest imports ({kind.outcome})")
        tally = self._tallies.get(kind)
        if tally is None:
            self._tallies[kind] = _Tally(1, where, detail)
        else:
            tally.count += 1

    def kinds(self) -> frozenset[str]:
        return frozenset(kind.reference for kind in self._tallies)

    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """One warning per kind, in the order the kinds were first met."""
        return tuple(
            Diagnostic(kind.reference, f"{kind.what}: {tally.count}, the first at "
                       f"{tally.where} ({tally.detail}); {kind.outcome}", file=self.source,
                       key=tally.where, hint=kind.hint, severity=Severity.WARNING,
                       context={"count": tally.count})
            for kind, tally in self._tallies.items())
