"""``iokit kmutil``: build the kernel collection, and show loaded kexts as ``kmutil showloaded``.

``create`` scans every installed kext distribution and writes the collection a boot reads
instead of scanning (see :mod:`iokit_host.kext.collection`); ``showloaded`` prints what
``iokit kextstat`` prints, the way ``kmutil showloaded`` does on macOS 11 and later.
"""

from __future__ import annotations

import argparse
import json
import sys

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
    from iokit_host.kext import collection
    from iokit_host.kext.discovery import scan

    records = scan()
    target = collection.collection_path(args.cache_dir)
    problem = collection.write(target, records)
    kexts = sum(len(r.kexts) for r in records)
    if args.json:
        print(json.dumps({"path": str(target), "distributions": len(records), "kexts": kexts,
                          "written": problem is None}))
    elif problem is None:
        print(f"kernel collection: {target} ({kexts} kexts from {len(records)} distributions)")
    if problem is not None:
        print(f"iokit kmutil: {problem}", file=sys.stderr)
        return 1
    return 0
