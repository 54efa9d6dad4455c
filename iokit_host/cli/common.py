"""Options every booting subcommand shares (``--machine``, ``--kext``, ``--define``, ``--strict``)
and the pip-style rendering of diagnostics on stderr."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import TextIO

from iokit_host.cli.input_path import input_path
from iokit_host.errors import Diagnostic, IOKitError
from iokit_host.host import IOKitHost
from iokit_host.kernel.iolog import route_driver_output
from iokit_host.settings import env_flag

__all__ = ["add_boot_arguments", "exit_status", "host_from_args", "parse_defines",
           "print_diagnostics"]


def add_boot_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("machine and kexts")
    group.add_argument("--machine", "-M", metavar="NAME_OR_FILE", default=None, type=input_path,
                       help="built-in machine name, machine-model file, ioreg dump (text or "
                            "ioreg -a), IORegistryExplorer archive (.ioreg), or 'host' "
                            "(default: the built-in default machine)")
    group.add_argument("--kext", action="append", default=[], metavar="PATH", type=input_path,
                       help="also load this Info.plist or kext folder as a codeless kext "
                            "(repeatable)")
    group.add_argument("--only-kexts", action="store_true",
                       help="load only the --kext paths, not the installed kexts")
    group.add_argument("--define", action="append", default=[], metavar="NAME=VALUE",
                       help="value for a build placeholder such as PRODUCT_BUNDLE_IDENTIFIER "
                            "(repeatable)")
    group.add_argument("--strict", action="store_true",
                       default=env_flag("IOKIT_STRICT"),
                       help="exit non-zero when a kext is refused or a driver fails, and "
                            "refuse a damaged --machine dump whole (also IOKIT_STRICT=1)")
    group.add_argument("--disable-plugin", action="append", default=[], metavar="NAME",
                       help="block a host plugin by name (also IOKIT_DISABLE_PLUGINS)")
    group.add_argument("--isolate", action="append", default=[], metavar="BUNDLE_ID",
                       help="run this kext's drivers in a driver process, as a dext's "
                            "(repeatable; docs/driverkit.md)")


def parse_defines(items: list[str]) -> dict[str, str]:
    defines: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise IOKitError(f"--define takes NAME=VALUE, not {item!r}",
                             reference="bad-define", key="--define",
                             hint="e.g. --define PRODUCT_BUNDLE_IDENTIFIER=com.acme.driver")
        defines[name.strip()] = value
    return defines


def host_from_args(args: argparse.Namespace) -> IOKitHost:
    """Build (not boot) a host from the shared options.

    The host is never strict itself (``IOKIT_STRICT`` is read into ``--strict`` instead): a
    command prints what it booted first and only then fails, through :func:`exit_status`.
    The machine is the exception: under ``--strict`` a damaged ioreg dump is refused before
    anything boots (all or nothing), so it is loaded here.
    """
    only = getattr(args, "only_kexts", False)
    machine = args.machine
    if getattr(args, "strict", False):
        from iokit_host.machine import load_machine

        machine = load_machine(machine, strict=True)
    host = IOKitHost(machine, kexts=[] if only else None, kext_paths=args.kext,
                     defines=parse_defines(args.define), strict=False,
                     disable_plugins=getattr(args, "disable_plugin", ()))
    if getattr(args, "isolate", None):
        from iokit_host.dext.manager import manager_for

        manager_for(host.kernel).isolated.update(args.isolate)
    # What its drivers print goes to stderr (IOLog), not into the command's output.
    route_driver_output(host.kernel.driver_calls)
    return host


def exit_status(args: argparse.Namespace, host: IOKitHost) -> int:
    """1 under ``--strict`` (or ``IOKIT_STRICT=1``) when a kext was refused or a driver failed."""
    return 1 if args.strict and host.failures() else 0


def print_diagnostics(diagnostics: Iterable[Diagnostic], *, file: TextIO | None = None) -> int:
    """Render diagnostics on stderr with reference and hint; returns how many."""
    out = file if file is not None else sys.stderr
    count = 0
    for diagnostic in diagnostics:
        print(str(diagnostic), file=out)
        count += 1
    return count
