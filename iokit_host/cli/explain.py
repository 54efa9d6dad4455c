"""``iokit explain NAME_OR_PATH``: every personality considered for one nub, and its fate.

Boots like ``iokit boot`` and then prints, for the nub, each candidate personality best first:
bundle, IOClass, category, initial and final score, outcome (started; lost to which; declined
in probe; start failed; no match with the first key that failed and why; waiting for a
resource). ``--json`` prints ``{"provider": ..., "candidates": [...]}``.
"""

from __future__ import annotations

import argparse
import json
import sys

from iokit_host.cli.common import (
    add_boot_arguments,
    exit_status,
    host_from_args,
    print_diagnostics,
)
from iokit_host.explain import Explanation

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="NAME_OR_PATH",
                        help="the nub: an IOService:/ path, a name, or name@location")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_boot_arguments(parser)


def run(args: argparse.Namespace) -> int:
    host = host_from_args(args).boot()
    explanation = host.explain(args.target)
    if args.json:
        print(json.dumps(explanation.to_json(), indent=2))
    else:
        _print_table(explanation)
    print_diagnostics(host.diagnostics)
    return exit_status(args, host)


def _print_table(explanation: Explanation) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{explanation.provider} <class {explanation.provider_class}>",
                  title_justify="left")
    for column in ("bundle", "class", "category", "initial", "score", "outcome", "reason"):
        table.add_column(column, overflow="fold")
    for c in explanation.candidates:
        table.add_row(c.bundle or "-", c.io_class or "-", c.category, str(c.initial_score),
                      "-" if c.score is None else str(c.score), c.outcome, c.reason)
    Console(file=sys.stdout, width=160, no_color=True).print(table)
