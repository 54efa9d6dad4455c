#!/usr/bin/env python3
"""Build the host's class-ancestry knowledge base from the public tables (run by a developer).

Reads ``../shared/reference/class-ancestry/*.tsv`` (or the directory given) and writes
``iokit_host/matching/class_ancestry.json``: every (class, superclass) fact with its kind, the
repository/path/commit it was read from and, where the superclass depends on the OS release,
what places the fact in time (the OS builds an archive recorded it on, the xnu tag an
open-source version carries). The host reads the file lazily
(:mod:`iokit_host.matching.ancestry`); nothing here runs at import or at boot.

    python scripts/build_ancestry.py [TABLES_DIR] [--check]

``--check`` writes nothing and exits 1 when the shipped file differs from what the tables
make (tests/matching/test_ancestry_data.py runs the same comparison).

Which rows become facts, and their kinds (see the tables' README):

- ``open_source.tsv``: ``metaclass`` (OSDefineMetaClassAndStructors: the runtime truth),
  ``header`` (OSDeclare*Structors in a header), ``header_nodecl`` (a plain ``class X : public
  Y``, weaker); ``open_source_conflicts.tsv`` adds the other versions of the 50 classes whose
  superclass changed, each with its ref (``main`` or ``tag:Project-version``).
- ``archive_chains.tsv``: ``archive``, one observation per (pair, archive) with its OS build.
- ``third_party.tsv``: ``sdk-header`` (Apple-authored headers in MacKernelSDK),
  ``reconstructed-header``, ``vendor-source`` (a kext's own metaclass), ``ios-class-dump``
  (an iPhone kernel: used only where nothing better exists). Its ``ioreg_archive_inheritance``
  rows repeat archive_chains.tsv collapsed, so they are skipped; ``driverkit_header`` rows and
  ``open_source_driverkit_iig.tsv`` go to the separate DriverKit graph.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TABLES = ROOT.parent / "shared" / "reference" / "class-ancestry"
OUTPUT = ROOT / "iokit_host" / "matching" / "class_ancestry.json"
FORMAT = 1

#: xnu's version series and the Darwin major release each shipped in (Apple's open-source
#: release listings, opensource.apple.com/releases; the archives' own OS builds agree for
#: 1228..2422). Places an ``xnu-N`` tag of open_source_conflicts.tsv on the release axis.
XNU_DARWIN = ((123, 1), (201, 5), (344, 6), (517, 7), (792, 8), (1228, 9), (1456, 10), (1699, 11),
              (2050, 12), (2422, 13), (2782, 14), (3247, 15), (3789, 16), (4570, 17),
              (4903, 18), (6153, 19), (7195, 20), (8019, 21), (8792, 22), (10002, 23),
              (11215, 24), (12377, 25))

_THIRD_PARTY_KINDS = {"sdk_header_apple": "sdk-header",
                      "sdk_header_reconstructed": "reconstructed-header",
                      "thirdparty_own_class": "vendor-source",
                      "ios_kernelcache_class_dump": "ios-class-dump"}


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)


def xnu_release(ref: str) -> int | None:
    """The Darwin major release of an ``xnu-N...`` tag; None for other refs."""
    match = re.fullmatch(r"tag:xnu-(\d+)(?:\.[\d.]+)?", ref)
    if match is None:
        return None
    version = int(match.group(1))
    darwin = [major for first, major in XNU_DARWIN if first <= version]
    return darwin[-1] if darwin else None


class _Sources:
    """Deduplicated (repository, path, commit) triples; facts name them by index."""

    def __init__(self) -> None:
        self.index: dict[tuple[str, str, str], int] = {}

    def __call__(self, repo: str, path: str, commit: str) -> int:
        return self.index.setdefault((repo, path, commit), len(self.index))

    def table(self) -> list[list[str]]:
        return [list(key) for key in sorted(self.index, key=self.index.__getitem__)]


def build(tables: Path) -> dict[str, Any]:
    """The knowledge base the tables in ``tables`` make, as the JSON document to ship."""
    sources = _Sources()
    facts: dict[str, list[list[Any]]] = defaultdict(list)
    _open_source(tables, sources, facts)
    builds = _archives(tables, sources, facts)
    driverkit = _third_party(tables, sources, facts)
    for row in _rows(tables / "open_source_driverkit_iig.tsv"):
        entry = [row["superclass"], "iig", sources(row["repo"], row["path"], row["commit"]),
                 row["ref"]]
        if entry not in driverkit[row["class"]]:
            driverkit[row["class"]].append(entry)
    return {
        "format": FORMAT,
        "tables": "reference/class-ancestry (open_source.tsv, open_source_conflicts.tsv, "
                  "archive_chains.tsv, third_party.tsv, open_source_driverkit_iig.tsv)",
        "sources": sources.table(),
        "builds": builds,
        "kernel": {name: sorted(rows, key=_order) for name, rows in sorted(facts.items())},
        "driverkit": {name: sorted(rows, key=_order) for name, rows in sorted(driverkit.items())},
    }


def _order(row: list[Any]) -> str:
    return json.dumps(row, sort_keys=True)


def _open_source(tables: Path, sources: _Sources, facts: dict[str, list[list[Any]]]) -> None:
    """``[super, kind, source, ref, darwin, age]``: ``darwin`` places an xnu tag on the release
    axis (None otherwise), ``age`` is 0 for the class's newest version (``main``, else the
    highest tag), 1 for the one before, ... A pair in both files keeps open_source.tsv's row
    (it has the commit); open_source_conflicts.tsv adds the other versions of changed classes
    (it has no commit column: the path is at the ref)."""
    found: dict[tuple[str, str], list[Any]] = {}
    for row in _rows(tables / "open_source.tsv"):
        found[(row["class"], row["superclass"])] = [
            row["superclass"], row["kind"], sources(row["repo"], row["path"], row["commit"]),
            row["ref"], xnu_release(row["ref"])]
    for row in _rows(tables / "open_source_conflicts.tsv"):
        found.setdefault((row["class"], row["superclass"]), [
            row["superclass"], row["kind"], sources(row["repo"], row["path"], ""),
            row["ref"], xnu_release(row["ref"])])
    by_class: dict[str, list[list[Any]]] = defaultdict(list)
    for (name, _), fact in found.items():
        by_class[name].append(fact)
    for name, versions in by_class.items():
        versions.sort(key=lambda fact: _ref_order(fact[3]), reverse=True)
        for age, fact in enumerate(versions):
            facts[name].append([*fact, age])


def _ref_order(ref: str) -> tuple[int, tuple[int, ...]]:
    """``main`` after every tag; tags by their version numbers (``tag:IOUSBFamily-560.4.2``)."""
    if ref == "main" or not ref.startswith("tag:"):
        return (1, ())
    numbers = re.findall(r"\d+", ref.rsplit("-", 1)[-1])
    return (0, tuple(int(n) for n in numbers))


def _archives(tables: Path, sources: _Sources, facts: dict[str, list[list[Any]]]
              ) -> dict[str, str]:
    """``[super, "archive", [source, ...]]``: every archive that recorded the pair. Returns
    each archive's OS build (its root's), by source index."""
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    builds: dict[str, str] = {}
    for row in _rows(tables / "archive_chains.tsv"):
        source = sources(row["repo"], row["path"], row["commit"])
        builds[str(source)] = row["os_build"].split()[0] if row["os_build"].strip() else ""
        seen[(row["class"], row["superclass"])].add(source)
    for (name, superclass), archives in seen.items():
        facts[name].append([superclass, "archive", sorted(archives)])
    return dict(sorted(builds.items(), key=lambda item: int(item[0])))


def _third_party(tables: Path, sources: _Sources, facts: dict[str, list[list[Any]]]
                 ) -> dict[str, list[list[Any]]]:
    """``[super, kind, source]``; returns the DriverKit rows, kept apart."""
    driverkit: dict[str, list[list[Any]]] = defaultdict(list)
    for row in _rows(tables / "third_party.tsv"):
        source = sources(row["repo"], row["path"], row["commit"])
        if row["source_type"] == "driverkit_header":
            driverkit[row["class"]].append([row["superclass"], "driverkit-header", source, ""])
            continue
        kind = _THIRD_PARTY_KINDS.get(row["source_type"])
        if kind is None:  # ioreg_archive_inheritance: archive_chains.tsv, uncollapsed
            continue
        fact = [row["superclass"], kind, source]
        if fact not in facts[row["class"]]:
            facts[row["class"]].append(fact)
    return driverkit


def render(data: dict[str, Any]) -> str:
    """The file's text: compact, one class per line so a rebuild's diff reads per class."""
    head = {k: v for k, v in data.items() if k not in ("kernel", "driverkit", "sources")}
    head["builds"] = data["builds"]
    lines = ["{" + json.dumps(head, sort_keys=True)[1:-1] + ","]
    lines.append('"sources":[')
    lines.append(",\n".join(json.dumps(s, separators=(",", ":")) for s in data["sources"]))
    lines.append("],")
    for section in ("kernel", "driverkit"):
        lines.append(f'"{section}":{{')
        lines.append(",\n".join(f"{json.dumps(name)}:{json.dumps(rows, separators=(',', ':'))}"
                                for name, rows in data[section].items()))
        lines.append("}" + ("," if section == "kernel" else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("tables", nargs="?", type=Path, default=DEFAULT_TABLES)
    parser.add_argument("--check", action="store_true",
                        help="compare with the shipped file instead of writing it")
    args = parser.parse_args(argv)
    text = render(build(args.tables))
    if args.check:
        same = OUTPUT.exists() and OUTPUT.read_text(encoding="utf-8") == text
        print(f"{OUTPUT}: {'up to date' if same else 'differs from the tables'}")
        return 0 if same else 1
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
