"""``iokit conformance DUMP... [--classes FILE] [--json]``: replay the bindings recorded in real ioreg dumps.

No IOKit tool does this; it is the project's measure of fidelity (see
:mod:`iokit_host.conformance`): for every driver a dump records, does passive matching accept
its recorded personality against its recorded provider? Prints one line per dump, then each
rejection with the key that failed and why; ``--json`` prints the report as JSON.
``--classes FILE`` supplies class ancestry the dumps do not show (a TOML ``[classes]`` table,
``Name = "Superclass"``, as in a machine model -- e.g. transcribed from ``ioreg -i``). Exits 0
when every recorded binding was accepted, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from iokit_host.conformance import ConformanceReport, read_classes, run_conformance

__all__ = ["configure", "render_text", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dumps", nargs="+", metavar="DUMP",
                        help="ioreg text dump (ioreg -lw0 output) to check")
    parser.add_argument("--classes", metavar="FILE",
                        help="TOML file whose [classes] table declares superclasses "
                             "(Name = \"Superclass\") the dumps do not show")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def render_text(report: ConformanceReport, out: TextIO) -> None:
    for dump in report.dumps:
        recall = f"{dump.accepted / dump.attachments:.4f}" if dump.attachments else "n/a"
        out.write(f"{dump.file}: {dump.accepted}/{dump.attachments} recorded bindings "
                  f"accepted (recall {recall})\n")
        out.writelines(f"  rejected {rejection.path} ({rejection.class_name})\n"
                      f"    key {rejection.key}: {rejection.reason}\n" for rejection in dump.rejected)
    recall = f"{report.recall:.4f}" if report.recall is not None else "n/a"
    out.write(f"total: {report.accepted}/{report.attachments} accepted, recall {recall}\n")


def run(args: argparse.Namespace) -> int:
    classes = read_classes(args.classes) if args.classes else None
    report = run_conformance(args.dumps, classes=classes)
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        render_text(report, sys.stdout)
    return 0 if report.accepted == report.attachments else 1
