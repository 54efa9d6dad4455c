"""Class ancestry from public sources: what OSMetaClass would say a closed class's superclass is.

``ioreg -l`` prints a class but not its superclasses, and matching by ``IOProviderClass``
needs them. The knowledge base (``class_ancestry.json``, made from the public tables in
``reference/class-ancestry`` by ``scripts/build_ancestry.py``) keeps every (class, superclass)
fact with where it was read. :class:`AncestryKnowledge` answers one question -- the superclass
of a class on a machine of a given release -- with the fact that decided it.

**Which fact wins** (:data:`KINDS`, by tier): a machine's own record (``ioreg -i`` chains, an
IORegistryExplorer archive) is not in this file and beats everything
(:class:`~iokit_host.matching.classes.ClassRegistry`); then Apple's open-source
``OSDefineMetaClassAndStructors`` rows, class chains IORegistryExplorer recorded on real Macs
and a vendor kext's own metaclass; then headers declaring the class (open source, Apple's SDK
headers); the host's hand table; weaker declarations (a plain ``class X : public Y``,
reconstructed headers); then what a model or ``--classes`` declares; and last a class dump of
an iPhone kernel, used only where nothing else speaks and marked so.

**Which release.** Where the top tier disagrees with itself, the superclass changed between
releases: an archive recorded on the machine's own Darwin release decides (the nearest build);
else an open-source version placed on the release axis (an ``xnu-N`` tag holds up to its
release, ``main`` after); else the observation nearest the machine's release; a machine that
records no release gets the newest. DriverKit's ``.iig`` graph (``IOService : OSObject`` in a
dext) is kept apart and never consulted for kernel classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from iokit_host.matching.ancestry_file import read_knowledge
from iokit_host.matching.releases import OSRelease

__all__ = ["KINDS", "AncestryFact", "AncestryKnowledge", "FactKind", "describe_ancestry",
           "shipped_knowledge"]

DATA_FILE = Path(__file__).with_name("class_ancestry.json")


@dataclass(frozen=True, slots=True)
class FactKind:
    """Where a kind of fact comes from: its tier (lower wins), confidence and label."""

    tier: int
    confidence: str
    label: str


#: Every kind of ancestry fact, closed: what ``source`` can be in explain and conformance.
KINDS: Mapping[str, FactKind] = {
    "recorded": FactKind(0, "high", "recorded by this machine"),
    "archive": FactKind(1, "high", "archive chain"),
    "metaclass": FactKind(1, "high", "open-source metaclass"),
    "vendor-source": FactKind(1, "high", "vendor source metaclass"),
    "header": FactKind(2, "high", "open-source header"),
    "sdk-header": FactKind(2, "high", "Apple SDK header"),
    "host-table": FactKind(3, "medium", "host table, cited header"),
    "header_nodecl": FactKind(4, "medium", "open-source class declaration"),
    "reconstructed-header": FactKind(4, "medium", "reconstructed header"),
    "declared": FactKind(5, "medium", "declared"),
    "ios-class-dump": FactKind(6, "low", "iOS class dump, weaker for macOS"),
    "iig": FactKind(1, "high", "DriverKit .iig"),
    "driverkit-header": FactKind(2, "medium", "DriverKit header"),
}

#: The tiers the knowledge base answers before the hand table and declarations, and after.
STRONG_TIERS = (1, 2, 4)
WEAK_TIERS = (6,)


@dataclass(frozen=True, slots=True)
class AncestryFact:
    """One (class, superclass) fact and where it came from.

    :param kind: a key of :data:`KINDS`.
    :param where: the source in a few words (``MacBookPro10,2 12C60``; ``repo path (ref,
        commit)``).
    :param release: how the release chose it, when the superclass changed between releases.
    """

    class_name: str
    superclass: str
    kind: str
    where: str
    release: str = ""

    @property
    def tier(self) -> int:
        return KINDS[self.kind].tier

    @property
    def confidence(self) -> str:
        return KINDS[self.kind].confidence

    def describe(self) -> str:
        """``archive chain, MacBookPro10,2 12C60`` (and the release note, when there is one)."""
        text = f"{KINDS[self.kind].label}, {self.where}" if self.where else KINDS[self.kind].label
        return f"{text}; {self.release}" if self.release else text

    def to_json(self) -> dict[str, str]:
        data = {"class": self.class_name, "superclass": self.superclass, "source": self.kind,
                "confidence": self.confidence, "where": self.where}
        if self.release:
            data["release"] = self.release
        return data


class AncestryKnowledge:
    """The knowledge base: facts by class, answered for a release (see the module doc)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._sources: Sequence[Sequence[str]] = data.get("sources", ())
        self._builds: Mapping[str, str] = data.get("builds", {})
        self._kernel: Mapping[str, list[list[Any]]] = data.get("kernel", {})
        self._driverkit: Mapping[str, list[list[Any]]] = data.get("driverkit", {})

    @classmethod
    def from_file(cls, path: Path) -> AncestryKnowledge:
        return cls(read_knowledge(path.read_text(encoding="utf-8")))

    def knows(self, name: str) -> bool:
        return name in self._kernel

    def class_names(self) -> frozenset[str]:
        return frozenset(self._kernel)

    def superclasses(self, name: str, tiers: Sequence[int] = (1, 2)) -> frozenset[str]:
        """Every superclass the given tiers give ``name``, over all releases."""
        return frozenset(row[0] for row in self._kernel.get(name, ())
                         if KINDS[row[1]].tier in tiers)

    def fact(self, name: str, release: OSRelease | None,
             tiers: Sequence[int] = STRONG_TIERS) -> AncestryFact | None:
        """The fact that gives ``name``'s superclass on a machine of ``release``, from the best
        of ``tiers`` that knows it; None when none does."""
        rows = self._kernel.get(name)
        if not rows:
            return None
        for tier in sorted(tiers):
            chosen = [row for row in rows if KINDS[row[1]].tier == tier]
            if chosen:
                return self._choose(name, chosen, release)
        return None

    def driverkit_fact(self, name: str) -> AncestryFact | None:
        """``name``'s superclass in the DriverKit (dext) graph, apart from the kernel's."""
        rows = sorted(self._driverkit.get(name, ()), key=lambda row: KINDS[row[1]].tier)
        if not rows:
            return None
        superclass, kind, source, ref = rows[0]
        return AncestryFact(name, superclass, kind, self._where(source, ref))

    # -- choosing --------------------------------------------------------------------------
    def _choose(self, name: str, rows: list[list[Any]], release: OSRelease | None
                ) -> AncestryFact:
        supers = {row[0] for row in rows}
        archives = [row for row in rows if row[1] == "archive"]
        sources = [row for row in rows if row[1] != "archive"]
        if len(supers) == 1:
            if archives:
                return self._archive_fact(name, archives, release, note="")
            return self._source_fact(name, min(sources, key=_age), note="")
        note = self._note(release)
        if release is not None:
            same = [row for row in archives
                    if any(r.darwin == release.darwin for _, r in self._observed(row))]
            if same:
                return self._archive_fact(name, same, release, note=note, darwin=release.darwin)
            placed = [row for row in sources if len(row) > 4 and row[4] is not None]
            if placed:
                later = [row for row in placed if row[4] >= release.darwin]
                newest = min(later, key=lambda row: row[4]) if later else min(sources, key=_age)
                return self._source_fact(name, newest, note=note)
            if archives:
                return self._archive_fact(name, archives, release, note=note)
        if sources:
            return self._source_fact(name, min(sources, key=_age), note=note)
        return self._archive_fact(name, archives, None, note=note)

    @staticmethod
    def _note(release: OSRelease | None) -> str:
        if release is None:
            return ("the superclass changed between releases and this machine records no "
                    "OS build: the newest is taken")
        return f"the superclass changed between releases: chosen for {release}"

    def _observed(self, row: list[Any]) -> list[tuple[int, OSRelease]]:
        found = []
        for source in row[2]:
            build = OSRelease.from_build(self._builds.get(str(source), ""))
            if build is not None:
                found.append((source, build))
        return found

    def _archive_fact(self, name: str, rows: list[list[Any]], release: OSRelease | None, *,
                      note: str, darwin: int | None = None) -> AncestryFact:
        """The observation nearest ``release`` (the latest when it is None), named by the Mac
        and build it was recorded on, with how many other archives recorded the same."""
        observed = [(row, source, build) for row in rows for source, build in self._observed(row)
                    if darwin is None or build.darwin == darwin]
        if not observed:  # archives without a readable build: the first, unplaced
            row = rows[0]
            return AncestryFact(name, row[0], "archive", self._archive_name(row[2][0], ""), note)
        if release is None:
            row, source, build = max(observed, key=lambda item: item[2])
        else:
            row, source, build = min(observed, key=lambda item: (item[2].distance(release),
                                                                  _negated(item[2])))
        others = len(row[2]) - 1
        where = self._archive_name(source, build.text)
        if others:
            where += f", +{others} archive{'s' if others > 1 else ''}"
        return AncestryFact(name, row[0], "archive", where, note)

    def _archive_name(self, source: int, build: str) -> str:
        """``MacBookPro10,2 12C60 in khronokernel/DarwinDumped``: the model folder of the
        archive's path in the repository, and the build its root recorded."""
        repo, path, _ = self._sources[source]
        parts = path.split("/")
        model = parts[1] if len(parts) > 2 else path.rsplit("!", 1)[-1]
        return f"{model} {build}".strip() + f" in {repo}"

    def _source_fact(self, name: str, row: list[Any], *, note: str) -> AncestryFact:
        superclass, kind, source = row[0], row[1], row[2]
        ref = row[3] if len(row) > 3 else ""
        return AncestryFact(name, superclass, kind, self._where(source, ref), note)

    def _where(self, source: int, ref: str) -> str:
        repo, path, commit = self._sources[source]
        at = ", ".join(part for part in (ref.removeprefix("tag:"), commit[:12]) if part)
        return f"{repo} {path}" + (f" ({at})" if at else "")


def describe_ancestry(name: str, ancestor: str, facts: Sequence[AncestryFact]) -> str:
    """``AMDFramebuffer is an IOFramebuffer (AMDFramebuffer : IOFramebuffer, archive chain,
    MacBookPro10,2 12B13 in khronokernel/DarwinDumped)``: one clause per link."""
    links = "; ".join(f"{f.class_name} : {f.superclass}, {f.describe()}" for f in facts)
    article = "an" if ancestor[:1] in "AEIOU" else "a"
    return f"{name} is {article} {ancestor} ({links})"


def _age(row: list[Any]) -> int:
    """Open-source versions: 0 is the newest; other kinds have one version."""
    return int(row[5]) if len(row) > 5 else 0


def _negated(release: OSRelease) -> tuple[int, int, int]:
    """Ties between equally near builds go to the later one."""
    return (-release.darwin, -ord(release.letter or "A"), -release.number)


@cache
def shipped_knowledge() -> AncestryKnowledge:
    """The knowledge base shipped with the host, read once per process on first use (an
    absent or unreadable file is an empty base: the hand tables still answer)."""
    try:
        return AncestryKnowledge.from_file(DATA_FILE)
    except (OSError, ValueError):
        return AncestryKnowledge({})
