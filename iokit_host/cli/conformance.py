"""``iokit conformance DUMP... [--classes FILE] [--json]``: replay the bindings recorded in real ioreg dumps.

No IOKit tool does this; it is the project's measure of fidelity (see
:mod:`iokit_host.conformance`): for every driver a dump records, does passive matching accept
its recorded personality against its recorded provider? Prints one line per dump, then the
class ancestry that decided accepted matches and where each fact came from (``ancestry``),
then each rejection with its category (:data:`~iokit_host.conformance.CATEGORIES`), the key
that failed and why; ``--json`` prints the report as JSON.
``--classes FILE`` supplies class ancestry the dumps do not show (a TOML ``[classes]`` table,
``Name = "Superclass"``, as in a machine model -- e.g. transcribed from ``ioreg -i``). A dump
that cannot be read is listed with its error (also on stderr, as are the warnings about damaged
dumps read past) and the others are measured all the same. Exits 0 when every dump was read and
every recorded binding was accepted, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from iokit_host.cli.input_path import input_path
from iokit_host.conformance import ConformanceReport, read_classes, run_conformance

__all__ = ["configure", "render_text", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dumps", nargs="+", metavar="DUMP", type=input_path,
                        help="ioreg text dump (ioreg -lw0 output), IORegistryExplorer archive "
                             "(.ioreg) or ioreg -a output to check")
    parser.add_argument("--classes", metavar="FILE", type=input_path,
                        help="TOML file whose [classes] table declares superclasses "
                             "(Name = \"Superclass\") the dumps do not show")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def render_text(report: ConformanceReport, out: TextIO) -> None:
    for dump in report.dumps:
        file = _printable(dump.file)
        if dump.error is not None:
            out.write(f"{file}: not read: {_printable(dump.error.message)} "
                      f"[{dump.error.reference}]\n")
            continue
        recall = f"{dump.accepted / dump.attachments:.4f}" if dump.attachments else "n/a"
        release = f", OS build {dump.release}" if dump.release else ""
        out.write(f"{file}: {dump.accepted}/{dump.attachments} recorded bindings "
                  f"accepted (recall {recall}{release})\n")
        out.writelines(f"  ancestry ({use.count} binding{'s' if use.count > 1 else ''}): "
                       f"{use.describe()}\n" for use in dump.ancestry)
        out.writelines(f"  rejected {rejection.path} ({rejection.class_name})\n"
                       f"    [{rejection.category}] key {rejection.key}: {rejection.reason}\n"
                       for rejection in dump.rejected)
    recall = f"{report.recall:.4f}" if report.recall is not None else "n/a"
    unread = f", {report.unreadable} dump(s) not read" if report.unreadable else ""
    out.write(f"total: {report.accepted}/{report.attachments} accepted, recall {recall}"
              f"{unread}\n")


def _printable(text: str) -> str:
    """``text`` as stdout can encode it: a path given as undecodable bytes (surrogate escapes)
    shows those bytes escaped (``\\xff``) rather than failing to print."""
    try:
        raw = text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", errors="backslashreplace")
    return raw.decode("utf-8", errors="backslashreplace")


def _print_diagnostics(report: ConformanceReport) -> None:
    for dump in report.dumps:
        for diagnostic in (dump.error, *dump.warnings):
            if diagnostic is not None:
                print(diagnostic, file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    classes = read_classes(args.classes) if args.classes else None
    report = run_conformance(args.dumps, classes=classes)
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        render_text(report, sys.stdout)
    _print_diagnostics(report)
    return 0 if report.accepted == report.attachments and not report.unreadable else 1
