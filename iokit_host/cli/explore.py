"""``iokit explore``: the registry explorer in the browser (IORegistryExplorer).

``iokit explore --kernel [PATH]`` serves the explorer for a running ``iokit kernel``;
``iokit explore [--machine M]`` boots a private kernel of that machine (a built-in name, a
model file, a real ``ioreg`` dump, any machine ``--machine`` loads) on a socket of its own and
serves it. Either way the explorer is a client of the kernel's socket, binds 127.0.0.1 unless
``--http`` says otherwise, is read-only unless ``--allow-events``, and opens the browser unless
``--no-open``. Ctrl-C stops it. ``iokit kernel --http ADDR`` takes the same two options.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from typing import TYPE_CHECKING

from iokit_host.cli.common import add_boot_arguments
from iokit_host.cli.kernel_option import add_kernel_argument, kernel_path
from iokit_host.errors import IOKitError

if TYPE_CHECKING:
    from iokit_host.explorer.serve import ExplorerServer

__all__ = ["add_http_arguments", "configure", "explorer_for", "run"]


def add_http_arguments(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    group = parser.add_argument_group("the registry explorer (docs/explorer.md)")
    group.add_argument("--http", metavar="ADDR", default=default,
                       help="serve the registry explorer in the browser on ADDR (PORT, "
                            "HOST:PORT; 127.0.0.1 unless a host is given; port 0: any free "
                            "one)" + (f"; default {default}" if default else ""))
    group.add_argument("--allow-events", action="store_true",
                       help="let the explorer's page apply events (unplug, sleep, wake); "
                            "read-only without it")


def explorer_for(args: argparse.Namespace, kernel: str) -> ExplorerServer | None:
    """The explorer ``--http`` asks for, its socket already bound; None without ``--http``."""
    if getattr(args, "http", None) is None:
        return None
    from iokit_host.explorer.serve import ExplorerServer, bind, parse_address

    address = parse_address(args.http)
    server = ExplorerServer(kernel, bind(address), allow_events=args.allow_events,
                            names=(address.host,))
    server.open_browser = getattr(args, "open", False)
    return server


def configure(parser: argparse.ArgumentParser) -> None:
    add_boot_arguments(parser)
    add_kernel_argument(parser, doing="explore the running kernel ('iokit kernel')",
                        instead=" instead of booting a private one")
    add_http_arguments(parser, default="127.0.0.1:0")
    parser.add_argument("--no-open", dest="open", action="store_false",
                        help="do not open the browser; only print the explorer's URL")


def run(args: argparse.Namespace) -> int:
    kernel = kernel_path(args)
    if kernel is not None and args.machine is not None:
        raise IOKitError("--machine boots a private kernel; --kernel explores a running one: "
                         "give one of them", reference="explore-conflicting-options",
                         key="--machine", hint="drop --kernel (or unset IOKIT_KERNEL) to "
                                               "explore a machine")
    if kernel is not None:
        return _explore_running(args, kernel)
    return _explore_machine(args)


def _explore_running(args: argparse.Namespace, kernel: str) -> int:
    server = explorer_for(args, kernel)
    assert server is not None
    server.run(ready=lambda: print(f"iokit explore: explorer on {server.url} for the kernel "
                                   f"at {kernel}", flush=True))
    return 0


def _explore_machine(args: argparse.Namespace) -> int:
    from iokit_host.cli import kernel as kernel_command

    directory = tempfile.mkdtemp(prefix="iokit-explore-")
    try:
        args.socket = os.path.join(directory, "kernel.sock")
        args.entitlements = None
        args.group = None
        return kernel_command.run(args)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        sys.stdout.flush()
