"""``iokit dext list``: driver extensions and their driver processes (``systemextensionsctl list``).

It boots the machine (the boot options of ``iokit boot``, ``--isolate`` among them) and lists
every dext and isolated kext the catalogue holds: bundle id and version, server name, the
driver process's pid, its state (``running``, ``crashed``, ``crash-limit``, ``stopped``, or
``not launched`` when nothing matched it) and its crashes within the 24-hour window.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from iokit_host.cli.common import (
    add_boot_arguments,
    exit_status,
    host_from_args,
    print_diagnostics,
)
from iokit_host.cli.kernel_option import add_kernel_argument, kernel_path

if TYPE_CHECKING:
    from iokit_host.dext.records import DextRow

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    listing = sub.add_parser("list", help="dexts and isolated kexts with their driver processes")
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_boot_arguments(listing)
    add_kernel_argument(listing)


def run(args: argparse.Namespace) -> int:
    path = kernel_path(args)
    if path is not None:  # the running kernel's servers
        from iokit_host.server.dext_ops import fetch_dexts

        _print(args, fetch_dexts(path))
        return 0
    from iokit_host.dext.listing import dext_rows
    from iokit_host.dext.manager import manager_for

    host = host_from_args(args).boot()
    _print(args, dext_rows(host))
    print_diagnostics(host.diagnostics)
    manager_for(host.kernel).shutdown()
    return exit_status(args, host)


def _print(args: argparse.Namespace, rows: list[DextRow]) -> None:
    if args.json:
        print(json.dumps({"extensions": [r.to_json() for r in rows]}, indent=2))
    else:
        _print_table(rows)


def _print_table(rows: list[DextRow]) -> None:
    print(f"{len(rows)} extension(s)")
    print("--- com.apple.system_extension.driver_extension")
    print("enabled\tactive\tbundleID (version)\tserver\tpid\tcrashes\t[state]")
    for row in rows:
        active = "*" if row.state == "running" else ""
        version = row.version or "?"
        pid = str(row.pid) if row.pid is not None else "-"
        print(f"*\t{active}\t{row.bundle_id} ({version})\t{row.server}\t{pid}\t"
              f"{row.crashes}\t[{row.state}]")
