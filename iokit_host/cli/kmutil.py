"""``iokit kmutil``: build the kernel collection, and show loaded kexts as ``kmutil showloaded``.

``create`` scans every installed kext distribution and writes the collection a boot reads
instead of scanning (see :mod:`iokit_host.kext.collection`), and reports on stderr what it
left out (a distribution it could not read, an entry point whose kext it could not read);
``showloaded`` prints what ``iokit kextstat`` prints, the way ``kmutil showloaded`` does on
macOS 11 and later.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from iokit_host.errors import Severity

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    from iokit_host.cli import kextstat

    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="write the kernel collection (manifest cache)")
    create.add_argument("--cache-dir", default=None, metavar="DIR",
                        help="where to write it (default: $IOKIT_CACHE_DIR or "
                             "<sys.prefix>/var/iokit-host)")
    create.add_argument("--json", action="store_true", help="print JSON for scripts")
    kextstat.configure(sub.add_parser("showloaded", help="loaded kexts, as kextstat prints"))


def run(args: argparse.Namespace) -> int:
    if args.action == "showloaded":
        from iokit_host.cli.kextstat import show_loaded

        return show_loaded(args)
    return _create(args)


def _create(args: argparse.Namespace) -> int:
    from iokit_host.kext import collection, install_index, stamps
    from iokit_host.kext.discovery import scan

    started = stamps.scan_clock()
    watched = collection.watch(None, started)
    records = scan(started=started)
    target = collection.collection_path(args.cache_dir)
    problem = collection.write(target, records, watched)
    install_index.refresh(args.cache_dir)
    # What was left out: unreadable distributions and entries whose kext could not be read.
    left_out = [d for r in records for d in (
        *r.diagnostics, *(d for k in r.kexts if k.bundle is None for d in k.diagnostics))]
    kexts = sum(len(r.kexts) for r in records)
    if args.json:
        print(json.dumps({"path": str(target), "distributions": len(records), "kexts": kexts,
                          "written": problem is None,
                          "diagnostics": [d.to_json() for d in left_out]}))
    elif problem is None:
        print(f"kernel collection: {target} ({kexts} kexts from {len(records)} distributions)")
    for diagnostic in left_out:
        print(f"iokit kmutil: {diagnostic}", file=sys.stderr)
    if problem is not None:
        # A boot goes on without its cache (a warning there); writing it is this command's job.
        failed = dataclasses.replace(problem, severity=Severity.ERROR)
        print(f"iokit kmutil: {failed}", file=sys.stderr)
        return 1
    return 0
