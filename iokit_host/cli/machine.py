"""``iokit machine``: list, show and import machine models (no IOKit tool; the nearest is
``ioreg`` on the hardware itself, or ``system_profiler SPHardwareDataType``).

- ``iokit machine list``: the built-in machines and ``host``;
- ``iokit machine show NAME_OR_FILE [--json]``: name, description, source, counts by class and
  the tree of nubs with class, name and location;
- ``iokit machine import DUMP -o FILE``: an ``ioreg -lw0`` dump, an IORegistryExplorer archive
  (``.ioreg``, every plane) or ``ioreg -a`` output as an editable model file.

A damaged dump or archive (redacted, CRLF, pasted, cut off) imports with one warning per kind of
damage on stderr; ``--strict`` (or ``IOKIT_STRICT=1``) refuses it whole instead.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from iokit_host.cli.input_path import input_path
from iokit_host.cli.output_file import check_writable, write_text
from iokit_host.ioreg.jsontext import dump
from iokit_host.machine import MachineModel, dump_machine, list_machines, load_machine
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.format import parse_machine
from iokit_host.machine.loader import import_dump, read_machine_file
from iokit_host.machine.model import NubSpec
from iokit_host.machine.sniff import file_kind
from iokit_host.settings import env_flag

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="built-in machines")
    show = actions.add_parser("show", help="summarise a machine and print its tree of nubs")
    show.add_argument("machine", metavar="NAME_OR_FILE", type=input_path)
    show.add_argument("--json", action="store_true", help="print JSON for scripts")
    _add_strict(show)
    imp = actions.add_parser("import", help="convert an ioreg text dump, an IORegistryExplorer "
                                            "archive or ioreg -a output to a model file")
    imp.add_argument("dump", metavar="DUMP", type=lambda text: Path(input_path(text)))
    imp.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    _add_strict(imp)


def _add_strict(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict", action="store_true", default=env_flag("IOKIT_STRICT"),
                        help="refuse a damaged ioreg dump whole instead of importing what "
                             "can be read (also IOKIT_STRICT=1)")


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _list()
    if args.action == "show":
        model = load_machine(args.machine, strict=args.strict)
        _warn(model)
        return _show(model, as_json=args.json)
    return _import(args.dump, args.output, strict=args.strict)


def _warn(model: MachineModel) -> None:
    """What reading the model tolerated (a damaged dump), on stderr."""
    for diagnostic in model.diagnostics:
        print(diagnostic, file=sys.stderr)


def _list() -> int:
    machines = list_machines()
    width = max(len(name) for name, _ in machines)
    for name, description in machines:
        print(f"{name:<{width}}  {description}")
    return 0


def summary(model: MachineModel) -> dict[str, Any]:
    """What ``show --json`` prints: the model's identity, class counts and tree."""
    counts = Counter(nub.class_name for _, nub in model.nubs())
    return {"name": model.name, "description": model.description, "source": model.source,
            "nubs": sum(counts.values()),
            "recorded_drivers": sum(1 for _, n in model.nubs() if n.recorded_driver),
            # Entries in other planes only (device-tree nodes, ACPI objects): an archive's.
            "plane_entries": len(model.entries), "planes": list(model.planes),
            "classes": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            "tree": _tree(model.root)}


def _tree(root: NubSpec) -> dict[str, Any]:
    # An explicit stack: a model may nest thousands of nubs deep.
    top = _tree_node(root)
    stack = [(root, top)]
    while stack:
        nub, node = stack.pop()
        if nub.children:
            node["children"] = [_tree_node(child) for child in nub.children]
            stack.extend(zip(nub.children, node["children"]))
    return top


def _tree_node(nub: NubSpec) -> dict[str, Any]:
    node: dict[str, Any] = {"class": nub.class_name, "name": nub.name or nub.class_name}
    if nub.location is not None:
        node["location"] = nub.location
    if nub.recorded_driver:
        node["recorded_driver"] = True
    return node


def _show(model: MachineModel, *, as_json: bool) -> int:
    info = summary(model)
    if as_json:
        dump(info, sys.stdout, indent=2)
        print()
        return 0
    print(f"name:        {info['name']}")
    print(f"description: {info['description']}")
    print(f"source:      {info['source'] or '-'}")
    print(f"nubs:        {info['nubs']} ({info['recorded_drivers']} recorded drivers)")
    if info["plane_entries"]:
        print(f"entries:     {info['plane_entries']} in other planes only")
    print("classes:")
    for class_name, count in info["classes"].items():
        print(f"  {count:4d}  {class_name}")
    print()
    for depth, nub in model.nubs():
        shown = nub.name or nub.class_name
        where = f"@{nub.location}" if nub.location else ""
        mark = ", recorded driver" if nub.recorded_driver else ""
        print(f"{'  ' * depth}+-o {shown}{where}  <class {nub.class_name}{mark}>")
    return 0


def _check_reads_back(text: str, output: Path, dump: Path) -> None:
    """Refuse, before writing, a model its own reader would refuse (a dump whose first entry
    is a device-tree ``IORegistryEntry``: no IOService root to boot). The parse is not extra
    work: it fills the parsed-model cache for ``output``, so the first boot from it is warm."""
    try:
        parse_machine(text, source=str(output))
    except MachineModelError as error:
        found = error.diagnostic
        raise MachineModelError(
            f"the dump imports to no bootable machine ({error.reason}); nothing written",
            reference=found.reference, file=str(dump), node=error.node, key=found.key,
            hint=f"{found.hint}; import a dump of the whole IOService plane "
                 "(ioreg -lw0 > dump.txt)") from None


def _import(dump: Path, output: Path, *, strict: bool) -> int:
    check_writable(output, inputs=[dump])  # before the import, which can take a while
    # A text dump whatever its look (its reader names what is wrong); a property list or a zip
    # as what it holds.
    if file_kind(dump) in ("plist", "zip"):
        model = read_machine_file(dump, strict=strict)
    else:
        model = import_dump(dump, strict=strict)
    _warn(model)
    text = dump_machine(model)
    _check_reads_back(text, output, dump)
    write_text(output, text)
    count = sum(1 for _ in model.nubs()) + len(model.entries)
    damaged = len(model.diagnostics)
    note = f" (imported past {damaged} kind(s) of damage: see the warnings)" if damaged else ""
    print(f"wrote {output}: {count} nubs from {dump}{note}")
    return 0
