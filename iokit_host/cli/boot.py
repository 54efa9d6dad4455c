"""``iokit boot``: boot a machine, match drivers, print the IOService plane and a summary.

The printout is ``iokit ioreg``'s IOService plane; then, with ``--events FILE``, the changes
each event made; last one line: nubs, drivers started, kexts loaded, refusals, waiting.
Diagnostics (refused kexts, failed drivers) go to stderr with their reference and hint.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from iokit_host.cli.common import (
    add_boot_arguments,
    exit_status,
    host_from_args,
    print_diagnostics,
)
from iokit_host.cli.input_path import input_path
from iokit_host.errors import Diagnostic
from iokit_host.host import IOKitHost

if TYPE_CHECKING:
    from iokit_host.scenario import Event

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    add_boot_arguments(parser)
    parser.add_argument("--events", metavar="FILE", default=None, type=input_path,
                        help="apply a scenario of events after boot: plug, unplug, publish, "
                             "sleep, wake, idle, advance, tickle, assert, release "
                             "(TOML; see docs/lifecycle.md)")


def run(args: argparse.Namespace) -> int:
    # Read the scenario before booting: an unreadable file fails at once; a damaged event is
    # reported with the boot's diagnostics and only that event is lost.
    damaged: list[Diagnostic] = []
    events: list[Event] = []
    if args.events is not None:  # the scenario reader is imported only for a boot that has one
        from iokit_host.scenario import read_events

        events = read_events(args.events, report=damaged.append)
    host = host_from_args(args).boot()
    for diagnostic in damaged:
        host.kernel.report(diagnostic)
    write_plane(host)
    if events:
        from iokit_host.scenario import apply_events

        for line in apply_events(host, events):
            print(line)
    print(host.summary())
    print_diagnostics(host.diagnostics)
    waiting = host.waiting
    for entry in waiting:
        print(f"waiting[{entry.kind}]: {entry.subject}: {entry.reason}")
    return exit_status(args, host)


def write_plane(host: IOKitHost) -> None:
    """Print the IOService plane in chunks: a machine thousands of levels deep prints
    gigabytes of guides, which are never held in memory at once."""
    try:
        from iokit_host.ioreg import IoregOptions, write_text
    except ImportError:  # the ioreg renderer is optional for a boot printout
        print(_simple_tree(host))
        return
    write_text(sys.stdout, host.registry, IoregOptions())


def _simple_tree(host: IOKitHost) -> str:
    lines = []
    for depth, entry in host.registry.walk("IOService"):
        location = entry.get_location()
        name = entry.get_name() + (f"@{location}" if location else "")
        lines.append(f"{'  ' * depth}+-o {name}  <class {entry.iokit_class_name}>")
    return "\n".join(lines)
