"""``iokit explain NAME_OR_PATH``: every personality considered for one nub, and its fate.

Boots like ``iokit boot`` and then prints, for the nub, each candidate personality best first.
Each column means one thing on every row:

- ``bundle``, ``class``, ``category``: the personality's kext, ``IOClass`` and match category;
- ``initial``: the score probe is offered, ``IOProbeScore`` as the family's
  ``matchPropertyTable`` left it (a USB personality's ladder score, not its bare IOProbeScore);
- ``score``: what the candidate bid once probed (probe may change it), ``-`` when it never
  was (no match, declined, failed before or in probe, never run);
- ``outcome``: one fate (:class:`~iokit_host.kernel.outcomes.Outcome`): started, terminated
  (started, since gone), lost, declined, a failure (not-entitled: a dext DriverKit's
  entitlement checks refuse), waiting, no-match, category-taken, not-run;
- ``reason``: the details: who it lost to, the key that failed and why, what it waits for.

Under the title, one ``ancestry:`` line per ``IOProviderClass`` the nub is an instance of
by known facts rather than its own class, saying where each fact came from
(``AMDFramebuffer is an IOFramebuffer (AMDFramebuffer : IOFramebuffer, archive chain,
MacBookPro10,2 12B13 in khronokernel/DarwinDumped)``).

``--json`` prints ``{"provider": ..., "candidates": [{"bundle", "class", "category",
"initial_score", "score", "outcome", "reason"}, ...], "ancestry": [...]}`` with the same
meanings.
"""

from __future__ import annotations

import argparse
import json
import unicodedata

from iokit_host.cli.common import (
    add_boot_arguments,
    exit_status,
    host_from_args,
    print_diagnostics,
)
from iokit_host.cli.kernel_option import add_kernel_argument, kernel_path
from iokit_host.explain import Explanation

__all__ = ["configure", "render_table", "run"]

def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="NAME_OR_PATH",
                        help="the nub: an IOService:/ path, a name, or name@location")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_boot_arguments(parser)
    add_kernel_argument(parser)


def run(args: argparse.Namespace) -> int:
    path = kernel_path(args)
    if path is not None:  # the running kernel's own record of its matching passes
        from iokit_host.server.client import fetch_explanation

        explanation, diagnostics = fetch_explanation(path, args.target)
        _print(explanation, args)
        print_diagnostics(diagnostics)
        return 0
    host = host_from_args(args).boot()
    _print(host.explain(args.target), args)
    print_diagnostics(host.diagnostics)
    return exit_status(args, host)


def _print(explanation: Explanation, args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(explanation.to_json(), indent=2))
    else:
        print(render_table(explanation))


def render_table(explanation: Explanation) -> str:
    """The table ``iokit explain`` prints: a title line, then one line per candidate in plain
    columns (no box), as IOKitTools print, that grep and the README can show.

    Built by hand, not by a table library: the cells are the manifest's own text, so nothing
    in them may be read as markup (a ``[/]`` in a bundle id), a control character is shown
    escaped so every candidate stays on one line, and 100,000 personalities print in moments.
    """
    rows = [_HEADER] + [
        tuple(_printable(cell) for cell in (
            c.bundle or "-", c.io_class or "-", c.category, str(c.initial_score),
            "-" if c.score is None else str(c.score), c.outcome, c.reason))
        for c in explanation.candidates]
    widths = [max(_cell_width(row[column]) for row in rows) for column in range(len(_HEADER))]
    title = _printable(f"{explanation.provider} <class {explanation.provider_class}>")
    ancestry = [_printable(f"  ancestry: {line}") for line in explanation.ancestry]
    lines = [title, *ancestry] + [_row_line(row, widths) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


_HEADER = ("bundle", "class", "category", "initial", "score", "outcome", "reason")


def _row_line(row: tuple[str, ...], widths: list[int]) -> str:
    """One row: each cell padded to its column's width, columns two apart, one space in."""
    cells = [cell + " " * (width - _cell_width(cell)) for cell, width in zip(row, widths)]
    return " " + "  ".join(cells)


def _printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``), so a cell stays on its line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
                   for char in text)


def _cell_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide East Asian characters two, combining marks
    none."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(char) else
               2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
