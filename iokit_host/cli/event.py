"""``iokit event FILE``: apply a scenario's events (plug, unplug, publish) to a running kernel.

The file is the one ``iokit boot --events`` reads (docs/lifecycle.md). It is read here: a
damaged event is reported with its ``event[N].key`` and skipped, the others are sent to the
kernel (``--kernel PATH``, ``$IOKIT_KERNEL``, else the per-user socket), which applies them in
order on its work loop; each change prints one line, as ``iokit boot --events`` prints it, and
an event the kernel could not apply is reported with its reason. A ``sleep``, ``wake`` or
``idle`` event that the running programs have to answer (``IORegisterForSystemPower``) ends when
they have, in wall time, and the events after it wait for it.
"""

from __future__ import annotations

import argparse

from iokit_sdk.iokitlib.wire import kernel_socket_path

from iokit_host.cli.common import print_diagnostics
from iokit_host.cli.input_path import input_path
from iokit_host.cli.kernel_option import add_kernel_argument, kernel_path
from iokit_host.errors import Severity

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", type=input_path,
                        help="a scenario of [[event]] tables (TOML)")
    add_kernel_argument(parser, doing="change the running kernel ('iokit kernel')", instead="")


def run(args: argparse.Namespace) -> int:
    from iokit_host.scenario import load_tables
    from iokit_host.server.client import apply_events

    # Each table is shape-checked before it is sent (apply_events): a damaged one is
    # reported and skipped, the others still apply, as with ``iokit boot --events``.
    tables = load_tables(args.file)
    path = kernel_path(args) or kernel_socket_path()
    # The running kernel checks each table with the scenario reader, so every action a
    # scenario file may hold (plug, sleep, tickle, ...) applies, and damage is reported once.
    lines, diagnostics = apply_events(path, tables, source=args.file) if tables else ([], [])
    for line in lines:
        print(line)
    print_diagnostics(diagnostics)
    failed = any(d.severity is Severity.ERROR for d in diagnostics
                 if d.reference == "scenario-invalid")
    return 1 if failed else 0
