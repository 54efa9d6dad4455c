"""``iokit kext inspect PATH_OR_ID``: a kext's parsed manifest and every diagnostic.

A path may be a bare Info.plist or a kext folder; anything else is looked up as the bundle id
of an installed kext. Exit status 0 when the kext is usable, 1 (with the diagnostics) when not.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from iokit_host.cli.common import parse_defines
from iokit_host.cli.input_path import input_path
from iokit_host.errors import Diagnostic, Severity, printable
from iokit_host.kext.bundle import KextBundle

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    inspect = sub.add_parser("inspect", help="parse a manifest and print it with diagnostics")
    inspect.add_argument("target", metavar="PATH_OR_ID", type=input_path,
                         help="an Info.plist, a kext folder, or an installed bundle id")
    inspect.add_argument("--define", action="append", default=[], metavar="NAME=VALUE",
                         help="value for a build placeholder such as "
                              "PRODUCT_BUNDLE_IDENTIFIER (repeatable)")
    inspect.add_argument("--json", action="store_true", help="print JSON for scripts")


def run(args: argparse.Namespace) -> int:
    defines = parse_defines(args.define)
    bundle, found = _load(args.target, defines)
    usable = bundle is not None and not any(d.severity is Severity.ERROR for d in found)
    if args.json:
        print(json.dumps({"usable": usable, "bundle": _bundle_json(bundle),
                          "diagnostics": [d.to_json() for d in found]}, indent=2, default=str))
    else:
        print(_render(bundle, found, args.target))
    return 0 if usable else 1


def _load(target: str, defines: dict[str, str]) -> tuple[KextBundle | None, list[Diagnostic]]:
    from iokit_host.kext.manifest import read_manifest

    # lexists: a symlink that loops or dangles is still a path the user gave, not an id.
    if os.path.lexists(target) or "/" in target or target.endswith(".plist"):
        return read_manifest(target, defines=defines)
    return _installed(target, defines)


def _installed(bundle_id: str, defines: dict[str, str]
               ) -> tuple[KextBundle | None, list[Diagnostic]]:
    from iokit_host.kext.discovery import discover
    from iokit_host.kext.resolver import resolve

    discovery = discover(defines=defines or None)
    found = [d for d in discovery.diagnostics if d.subject == bundle_id]
    candidates = discovery.find(bundle_id)
    if not candidates:
        if not found:
            found.append(Diagnostic(
                "kext-not-installed", f"no installed kext has bundle id {bundle_id}",
                key=bundle_id, hint="give a path to an Info.plist or kext folder, or install "
                "the distribution whose iokit.kexts entry point names this id"))
        return None, found
    resolution = resolve(discovery.bundles)
    chosen = resolution.bundle(bundle_id) or candidates[0]
    found += [d for d in resolution.diagnostics if d.subject == bundle_id and d not in found]
    return chosen, found


def _bundle_json(bundle: KextBundle | None) -> dict[str, Any] | None:
    if bundle is None:
        return None
    return {
        "CFBundleIdentifier": bundle.bundle_id, "CFBundleVersion": bundle.version,
        "OSBundleCompatibleVersion": bundle.compatible_version,
        "OSBundleLibraries": dict(bundle.libraries),
        "IOKitPersonalities": {k: dict(v) for k, v in bundle.personalities.items()},
        "package": bundle.package, "has_executable": bundle.has_executable,
        "is_library": bundle.is_library, "is_interface": bundle.is_interface,
        "is_dext": bundle.is_dext, "OSBundleRequired": bundle.required,
        "source": bundle.source,
        "distribution": None if bundle.distribution is None else {
            "name": bundle.distribution.name, "version": bundle.distribution.version,
            "path": bundle.distribution.path},
    }


def _render(bundle: KextBundle | None, found: list[Diagnostic], target: str) -> str:
    lines: list[str] = []
    if bundle is None:
        lines.append(f"{target}: refused")
    else:
        kind = ("dext" if bundle.is_dext else "library" if bundle.is_library
                else "codeless kext" if bundle.is_codeless else "kext")
        lines.append(f"{bundle.bundle_id} ({bundle.version}) {kind}")
        if bundle.compatible_version:
            lines.append(f"  compatible version: {bundle.compatible_version}")
        if bundle.package:
            lines.append(f"  package: {bundle.package}")
        if bundle.distribution:
            lines.append(f"  distribution: {bundle.distribution.name} "
                         f"{bundle.distribution.version}")
        lines.append(f"  source: {bundle.source}")
        lines.append(f"  libraries ({len(bundle.libraries)}):")
        lines += [f"    {i} {v}" for i, v in bundle.libraries.items()]
        lines.append(f"  personalities ({len(bundle.personalities)}):")
        for name, personality in bundle.personalities.items():
            lines.append(f"    {name}: {personality.get('IOClass', '?')} on "
                         f"{personality.get('IOProviderClass', '?')}")
    lines = [printable(line) for line in lines]  # ids, names and paths from the file
    if found:
        lines.append(f"diagnostics ({len(found)}):")
        lines += ["  " + str(d).replace("\n", "\n  ") for d in found]
    return "\n".join(lines)
