"""``iokit kextstat``: what a boot loaded, in load order, as macOS ``kextstat`` prints it.

It boots the machine (``--machine`` and the other boot options, as ``iokit boot`` takes them)
and lists what the kernel then has loaded: the kernel components (``com.apple.kpi.*`` and the
rest of the kernel's own), the kexts whose drivers started and the libraries they pulled in
(see :mod:`iokit_host.kext.loaded`). A kext that could load but drove nothing is not listed,
as the real kernel unloads it. The boot's diagnostics go to stderr, refused kexts among them,
so a missing library is never silent.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from iokit_host.cli.common import (
    add_boot_arguments,
    exit_status,
    host_from_args,
    print_diagnostics,
)
from iokit_host.cli.kernel_option import add_kernel_argument, kernel_path

if TYPE_CHECKING:
    from iokit_host.kext.loaded import LoadedKext

__all__ = ["configure", "run", "show_loaded"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("-b", "--bundle-id", action="append", default=[], metavar="ID",
                        help="show only this bundle id (repeatable)")
    parser.add_argument("-k", "--no-kernel", action="store_true",
                        help="leave out kernel components (com.apple.kpi.* and the host's own) "
                             "unless named with -b")
    parser.add_argument("-l", "--list-only", action="store_true", help="no header line")
    add_boot_arguments(parser)
    add_kernel_argument(parser)


def run(args: argparse.Namespace) -> int:
    return show_loaded(args)


def show_loaded(args: argparse.Namespace) -> int:
    """Shared by ``kextstat`` and ``kmutil showloaded``."""
    path = kernel_path(args)
    if path is not None:  # what the running kernel has loaded
        from iokit_host.server.client import fetch_loaded

        loaded, diagnostics = fetch_loaded(path)
        _print_rows(loaded, args)
        print_diagnostics(diagnostics)
        return 0
    host = host_from_args(args).boot()
    _print_rows(host.loaded_kexts(), args)
    print_diagnostics(host.diagnostics)
    return exit_status(args, host)


def _print_rows(loaded: Iterable[LoadedKext], args: argparse.Namespace) -> None:
    from iokit_host.kext.loaded import format_table

    wanted = set(args.bundle_id)
    # As kextstat: -k drops kernel components unless one is asked for by id.
    rows = [r for r in loaded
            if (not wanted or r.bundle_id in wanted)
            and not (args.no_kernel and r.kernel_component and r.bundle_id not in wanted)]
    if args.json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
    else:
        print(format_table(rows, header=not args.list_only))
