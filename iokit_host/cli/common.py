"""Options every booting subcommand shares (``--machine``, ``--kext``, ``--define``, ``--strict``)."""

from __future__ import annotations

import argparse
import os

from iokit_host.host import IOKitHost

__all__ = ["add_boot_arguments", "host_from_args", "parse_defines"]


def add_boot_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("machine and kexts")
    group.add_argument("--machine", "-M", metavar="NAME_OR_FILE", default=None,
                       help="built-in machine name, machine-model file, ioreg dump, or 'host' "
                            "(default: the built-in default machine)")
    group.add_argument("--kext", action="append", default=[], metavar="PATH",
                       help="also load this Info.plist or kext folder as a codeless kext "
                            "(repeatable)")
    group.add_argument("--define", action="append", default=[], metavar="NAME=VALUE",
                       help="value for a build placeholder such as PRODUCT_BUNDLE_IDENTIFIER "
                            "(repeatable)")
    group.add_argument("--strict", action="store_true",
                       default=os.environ.get("IOKIT_STRICT", "") not in ("", "0"),
                       help="exit non-zero when a kext is refused or a driver fails "
                            "(also IOKIT_STRICT=1)")


def parse_defines(items: list[str]) -> dict[str, str]:
    defines: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"--define takes NAME=VALUE, not {item!r}")
        defines[name.strip()] = value
    return defines


def host_from_args(args: argparse.Namespace) -> IOKitHost:
    """Build (not boot) a host from the shared options."""
    return IOKitHost(args.machine, kext_paths=args.kext, defines=parse_defines(args.define),
                     strict=args.strict)
