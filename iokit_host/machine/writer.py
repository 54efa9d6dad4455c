"""Writing a machine model as TOML text (the inverse of ``format.parse_machine``).

IOKit's nearest counterpart is ``ioreg -a``, which archives a registry subtree; this writes the
model-file format so that an imported dump or a modelled Linux machine can be edited and booted.
Nubs are written in pre-order; a nub with children but no id gets a ``_N`` label so they can
name it as ``parent`` without giving it a model id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iokit_host.machine import errors as E
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.model import MachineModel, NubSpec, PlaneLink
from iokit_host.machine.nodes import node_path, nub_label
from iokit_host.machine.records import record_table
from iokit_host.machine.tomltext import format_inline, format_key
from iokit_host.machine.values import encode_value

__all__ = ["write_model"]


def write_model(model: MachineModel) -> str:
    lines: list[str] = []
    try:
        _header(model, lines)
        order = _preorder(model.root)
        labels = _labels(order)
        for position, (nub, parent) in enumerate(order):
            try:
                _nub(nub, labels.get(position),
                     labels.get(parent) if parent is not None else None, lines)
            except MachineModelError as error:  # named as the file would name it
                raise error.at_node(_where(order, position), model.source) from None
        for number, entry in enumerate(model.entries):
            try:
                _nub(entry, entry.id, None, lines, table="entry")
            except MachineModelError as error:
                raise error.at_node(f"entry[{number}]", model.source) from None
    except ValueError as error:
        raise MachineModelError(f"cannot write the model: {error}", reference=E.BAD_VALUE,
                                file=model.source) from None
    return "\n".join(lines) + "\n"


def _header(model: MachineModel, lines: list[str]) -> None:
    lines.append("[machine]")
    lines.append(f"name = {format_inline(model.name)}")
    lines.append(f"description = {format_inline(model.description)}")
    if model.planes:
        lines.append(f"planes = {format_inline(list(model.planes))}")
    if model.classes:
        lines += ["", "[classes]"]
        lines += [f"{format_key(k)} = {format_inline(v)}" for k, v in model.classes.items()]
    if model.root_properties:
        lines += ["", "[root-properties]"]
        _properties(model.root_properties, lines, "root-properties")


def _preorder(root: NubSpec) -> list[tuple[NubSpec, int | None]]:
    """Every nub with its parent's position, in pre-order (a spec may appear twice)."""
    order: list[tuple[NubSpec, int | None]] = []
    stack: list[tuple[NubSpec, int | None]] = [(root, None)]
    while stack:
        nub, parent = stack.pop()
        position = len(order)
        order.append((nub, parent))
        stack.extend((child, position) for child in reversed(nub.children))
    return order


def _where(order: list[tuple[NubSpec, int | None]], position: int) -> str:
    """The label the file reader gives the nub written at ``position`` (its pre-order
    place is its ``[[nub]]`` table's): ``nub[3] Mac/PCI0@0/ARPT@1C,1``."""
    chain: list[NubSpec] = []
    at: int | None = position
    while at is not None:
        nub, at = order[at]
        chain.append(nub)
    chain.reverse()
    return nub_label(position, node_path(chain))


def _labels(order: list[tuple[NubSpec, int | None]]) -> dict[int, str]:
    """Position -> the id each nub is written with: its model id, or ``_N`` for a parent."""
    labels: dict[int, str] = {}
    used: set[str] = set()
    counter = 0
    for position, (nub, _) in enumerate(order):
        if nub.id is not None:
            if not nub.id or nub.id.startswith("_") or nub.id in used:
                raise MachineModelError(
                    f"id {nub.id!r} cannot be written: ids are unique, non-empty and do not "
                    "start with '_'", reference=E.DUPLICATE_ID, key="id",
                    node=_where(order, position))
            labels[position] = nub.id
            used.add(nub.id)
        elif nub.children:
            counter += 1
            labels[position] = f"_{counter}"
    return labels


def _nub(nub: NubSpec, label: str | None, parent: str | None, lines: list[str],
         table: str = "nub") -> None:
    lines += ["", f"[[{table}]]"]
    if label is not None:
        lines.append(f"id = {format_inline(label)}")
    if parent is not None:
        lines.append(f"parent = {format_inline(parent)}")
    lines.append(f"class = {format_inline(nub.class_name)}")
    for key, value in (("name", nub.name), ("location", nub.location)):
        if value is not None:
            lines.append(f"{key} = {format_inline(value)}")
    if nub.recorded_driver:
        lines.append("recorded-driver = true")
    if nub.planes:
        lines.append(f"planes = {format_inline([_link(link) for link in nub.planes])}")
    if nub.record is not None:
        lines.append(f"record = {format_inline(record_table(nub.record))}")
    if nub.properties:
        lines.append(f"[{table}.properties]")
        _properties(nub.properties, lines)


def _link(link: PlaneLink) -> dict[str, str | int]:
    fields = {"plane": link.plane, "parent": link.parent, "name": link.name,
              "location": link.location, "order": link.order}
    return {k: v for k, v in fields.items() if v is not None}


def _properties(props: Mapping[str, Any], lines: list[str], table: str = "properties") -> None:
    # No node here: the caller places the error (write_model), as the file reader would.
    for key, value in props.items():
        encoded = encode_value(value, key=f"{table}.{key}")
        lines.append(f"{format_key(key)} = {format_inline(encoded)}")
