"""Machines for tests: a model from a dict, a file or a built-in name (a test rig's hardware).

A driver's tests need a small, exact machine: a root and the few nubs the driver should or
should not bind. The dict is the machine-model TOML structure (``machine``, ``classes``,
``root-properties``, ``nub`` = list of nub tables), written out as TOML text and read by the
same parser as model files, so a dict is validated, typed and reported exactly as a file is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from iokit_sdk.values import MAX_VALUE_DEPTH

from iokit_host.machine import errors as E
from iokit_host.machine.errors import MachineModelError
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
        _check_document(source, name or "<dict>")
        return parse_machine(machine_toml(source), source=name or "<dict>")
    if not isinstance(source, str | Path):
        raise MachineModelError(f"a machine is a dict, a model file's path or a MachineModel, "
                                f"not {type(source).__name__}", reference=E.WRONG_TYPE,
                                file=name or "<dict>",
                                hint="pass iokit_machine a dict such as {'nub': [...]}")
    return read_machine(source)


#: The levels a document holds above its property values (``nub``, its list, a nub table,
#: ``properties``): values below them nest at most MAX_VALUE_DEPTH deep, as in a file.
_DOCUMENT_LEVELS = 4
_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_document(document: Mapping[str, Any], source: str) -> None:
    """Refuse, naming the key, what a dict holds that no TOML file could: a key that is not
    text, a value of another type (None, bytes, a set, a date, any object), a lone
    surrogate, or nesting past the bound (a list that holds itself). The TOML writer would
    raise a bare TypeError, ValueError or RecursionError for them."""
    stack: list[tuple[str, Any, int]] = [("", document, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_VALUE_DEPTH + _DOCUMENT_LEVELS:
            raise MachineModelError(f"a value nests more than {MAX_VALUE_DEPTH} arrays or "
                                    "tables deep (or holds itself)", reference=E.TOO_DEEP,
                                    file=source, key=path, hint="flatten the value")
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str) or _SURROGATE.search(key):
                    raise _not_toml(f"the key {key!r} is not text a TOML file holds", source,
                                    path)
                stack.append((f"{path}.{key}" if path else key, item, depth + 1))
        elif isinstance(value, list | tuple):
            stack += [(f"{path}[{index}]", item, depth + 1) for index, item in enumerate(value)]
        elif isinstance(value, str):
            if _SURROGATE.search(value):
                raise _not_toml("a string with a lone surrogate (undecodable bytes) is not "
                                "text a TOML file holds", source, path)
        elif not isinstance(value, bool | int | float):
            raise _not_toml(f"{type(value).__name__} is not a value a TOML file holds", source,
                            path)


def _not_toml(message: str, source: str, key: str) -> MachineModelError:
    return MachineModelError(message, reference=E.WRONG_TYPE, file=source, key=key or None,
                             hint="use str, int, bool, lists and dicts, as the TOML model "
                                  "format does (data as {'data': 'HEX'}; see "
                                  "docs/machine-models.md)")


def machine_toml(document: Mapping[str, Any]) -> str:
    """TOML text for a machine-model document: scalars and tables first, then ``[[nub]]``s."""
    lines: list[str] = []
    for key, value in document.items():
        if _is_table_array(value):
            continue
        if isinstance(value, Mapping):
            lines.append(f"[{format_key(key)}]")
            lines += [f"{format_key(k)} = {_inline(v)}" for k, v in value.items()]
            lines.append("")
        else:
            # TOML puts bare keys before the first table header; a top-level scalar here
            # is a mistake the parser reports by name.
            lines.insert(0, f"{format_key(key)} = {_inline(value)}")
    for key, value in document.items():
        if _is_table_array(value):
            for table in value:
                lines.append(f"[[{format_key(key)}]]")
                lines += [f"{format_key(k)} = {_inline(v)}" for k, v in table.items()]
                lines.append("")
    return "\n".join(lines) + "\n"


def _inline(value: Any) -> str:
    """:func:`format_inline`, with floats written as TOML writes them (a file may hold one:
    the model's reader then says where a float is not taken, as for a file)."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{format_key(k)} = {_inline(v)}" for k, v in value.items()) \
            + " }" if value else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(item) for item in value) + "]"
    return format_inline(value)


def _is_table_array(value: Any) -> bool:
    return (isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and bool(value)
            and all(isinstance(item, Mapping) for item in value))
