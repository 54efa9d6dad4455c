"""``iokit kextstat``: the loaded kexts in load order, as macOS ``kextstat`` prints them.

The host loads what resolution allows: kernel components first, then every installed kext
whose dependencies resolve, dependencies first. Refused kexts are listed on stderr with their
reference so a missing library is never silent.
"""

from __future__ import annotations

import argparse
import json
import sys

from iokit_host.cli.common import parse_defines

__all__ = ["configure", "run", "show_loaded"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("-b", "--bundle-id", action="append", default=[], metavar="ID",
                        help="show only this bundle id (repeatable)")
    parser.add_argument("-k", "--no-kernel", action="store_true",
                        help="leave out kernel components (com.apple.kpi.* and the host's own)")
    parser.add_argument("-l", "--list-only", action="store_true", help="no header line")
    parser.add_argument("--kext", action="append", default=[], metavar="PATH",
                        help="also load this Info.plist or kext folder (repeatable)")
    parser.add_argument("--define", action="append", default=[], metavar="NAME=VALUE",
                        help="value for a build placeholder (repeatable)")


def run(args: argparse.Namespace) -> int:
    return show_loaded(args)


def show_loaded(args: argparse.Namespace) -> int:
    """Shared by ``kextstat`` and ``kmutil showloaded``."""
    from iokit_host.kext.discovery import discover
    from iokit_host.kext.loaded import format_table, loaded_kexts
    from iokit_host.kext.manifest import read_manifest
    from iokit_host.kext.resolver import resolve

    defines = parse_defines(args.define)
    discovery = discover(defines=defines or None)
    bundles = list(discovery.bundles)
    problems = list(discovery.diagnostics)
    for path in args.kext:
        bundle, found = read_manifest(path, defines=defines)
        problems += found
        if bundle is not None:
            bundles.append(bundle)
    resolution = resolve(bundles)
    kernel = sum(1 for b in resolution.builtin if b.is_kernel_resource)
    rows = [r for r in loaded_kexts(resolution)
            if (not args.no_kernel or r.index > kernel)
            and (not args.bundle_id or r.bundle_id in args.bundle_id)]
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
    else:
        print(format_table(rows, header=not args.list_only))
    errors = [d for d in (*problems, *resolution.refused.values()) if d.severity.value == "error"]
    for diagnostic in errors:
        print(f"iokit: {diagnostic}", file=sys.stderr)
    return 0
