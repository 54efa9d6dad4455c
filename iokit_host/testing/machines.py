"""Machines for tests: a model from a dict, a file or a built-in name (a test rig's hardware).

A driver's tests need a small, exact machine: a root and the few nubs the driver should or
should not bind. The dict is the machine-model TOML structure (``machine``, ``classes``,
``root-properties``, ``nub`` = list of nub tables), written out as TOML text and read by the
same parser as model files, so a dict is validated, typed and reported exactly as a file is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from iokit_host.machine.format import parse_machine, read_machine
from iokit_host.machine.model import MachineModel
from iokit_host.machine.tomltext import format_inline, format_key

__all__ = ["MachineSource", "build_machine", "machine_toml"]

MachineSource = MachineModel | Mapping[str, Any] | str | Path


def build_machine(source: MachineSource, *, name: str | None = None) -> MachineModel:
    """A :class:`MachineModel` from a dict, a model file path, or a model itself.

    :param source: a dict in the machine-model TOML structure, a path to a ``.toml`` model,
        or a :class:`MachineModel` (returned unchanged).
    :param name: the source name used in diagnostics for a dict (default ``<dict>``).
    :raises MachineModelError: with the model format's reference and the failing key.
    """
    if isinstance(source, MachineModel):
        return source
    if isinstance(source, Mapping):
        return parse_machine(machine_toml(source), source=name or "<dict>")
    return read_machine(source)


def machine_toml(document: Mapping[str, Any]) -> str:
    """TOML text for a machine-model document: scalars and tables first, then ``[[nub]]``s."""
    lines: list[str] = []
    for key, value in document.items():
        if _is_table_array(value):
            continue
        if isinstance(value, Mapping):
            lines.append(f"[{format_key(key)}]")
            lines += [f"{format_key(k)} = {format_inline(v)}" for k, v in value.items()]
            lines.append("")
        else:
            # TOML puts bare keys before the first table header; a top-level scalar here
            # is a mistake the parser reports by name.
            lines.insert(0, f"{format_key(key)} = {format_inline(value)}")
    for key, value in document.items():
        if _is_table_array(value):
            for table in value:
                lines.append(f"[[{format_key(key)}]]")
                lines += [f"{format_key(k)} = {format_inline(v)}" for k, v in table.items()]
                lines.append("")
    return "\n".join(lines) + "\n"


def _is_table_array(value: Any) -> bool:
    return (isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and bool(value)
            and all(isinstance(item, Mapping) for item in value))
