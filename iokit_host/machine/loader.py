"""Finding a machine to boot: ``--machine`` names a built-in model, a model file, an ioreg dump,
or ``host`` (on a Mac the machine is simply the one the kernel runs on).

``load_machine(spec)`` accepts None (the built-in ``default``), a :class:`MachineModel`, a
built-in name, a path to a ``.toml`` model, the word ``host`` (this Linux machine, read from
``/sys``), or a path to an ``ioreg`` text dump, recognised by an entry line ``+-o ... <class``
among its first lines (a prompt line or a pasted indent may come before it). A damaged dump
imports with warnings in ``model.diagnostics``; ``strict`` refuses it instead.
"""

from __future__ import annotations

import codecs
import difflib
import importlib
import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from iokit_host.input_file import read_input_head
from iokit_host.machine import errors as E
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.format import parse_machine, read_machine
from iokit_host.machine.model import MachineModel

__all__ = ["DEFAULT_MACHINE", "HOST_MACHINE", "import_dump", "list_machines", "load_machine"]

DEFAULT_MACHINE = "default"
HOST_MACHINE = "host"
_BUILTIN_PACKAGE = "iokit_host.machine.builtin"
_DUMP_MARK = "+-o "
_DUMP_SNIFF = 16384
_DUMP_SNIFF_LINES = 40


def list_machines() -> list[tuple[str, str]]:
    """``(name, description)`` of each built-in machine, then ``host``; sorted by name."""
    machines = []
    for name, resource in sorted(_builtin_files().items()):
        machines.append((name, _description(resource.read_text(encoding="utf-8"))))
    machines.append((HOST_MACHINE, "this Linux machine, modelled from /sys (PCI and USB)"))
    return machines


def load_machine(spec: MachineModel | str | Path | None = None, *,
                 strict: bool | None = None) -> MachineModel:
    """The machine ``spec`` names; raises MachineModelError when it names none.

    :param strict: refuse a damaged ioreg dump rather than import its undamaged part; None
        reads ``IOKIT_STRICT``.
    """
    if spec is None:
        spec = DEFAULT_MACHINE
    if isinstance(spec, MachineModel):
        return spec
    text = str(spec)
    if not isinstance(spec, Path):
        if text == HOST_MACHINE:
            from iokit_host.machine.sysfs import sysfs_machine

            return sysfs_machine()
        builtin = _builtin_files().get(text)
        if builtin is not None:
            return parse_machine(builtin.read_text(encoding="utf-8"),
                                 source=f"<builtin>/{text}.toml")
    path = Path(text)
    if path.is_file():
        return import_dump(path, strict=strict) if _is_dump(path) else read_machine(path)
    raise _unknown(text)


def import_dump(path: str | Path, *, strict: bool | None = None) -> MachineModel:
    """A model of the machine an ``ioreg -lw0`` text dump records (``iokit_host.ioreg_import``).

    :param strict: refuse a damaged dump; None reads ``IOKIT_STRICT``.
    """
    try:
        module = importlib.import_module("iokit_host.ioreg_import")
    except ModuleNotFoundError as error:
        if error.name not in ("iokit_host.ioreg_import",):
            raise
        raise MachineModelError(
            "reading ioreg dumps needs iokit_host.ioreg_import, which is not installed",
            reference=E.IMPORT_UNAVAILABLE, file=str(path),
            hint="convert the dump on a host that has it: iokit machine import DUMP -o FILE"
        ) from None
    model = module.import_dump(path, strict=strict)
    if not isinstance(model, MachineModel):
        raise MachineModelError(f"the ioreg importer returned {type(model).__name__}",
                                reference=E.IMPORT_UNAVAILABLE, file=str(path))
    return model


def _builtin_files() -> dict[str, Traversable]:
    folder = resources.files(_BUILTIN_PACKAGE)
    return {entry.name[:-5]: entry for entry in folder.iterdir()
            if entry.name.endswith(".toml") and entry.is_file()}


def _description(text: str) -> str:
    try:
        machine = tomllib.loads(text).get("machine", {})
    except tomllib.TOMLDecodeError:
        return "(unreadable)"
    description = machine.get("description", "") if isinstance(machine, dict) else ""
    return description if isinstance(description, str) else ""


def _is_dump(path: Path) -> bool:
    """An entry line (``+-o``) among the first lines (see the module doc)."""
    try:  # without waiting on a FIFO nobody writes to
        head = read_input_head(path, _DUMP_SNIFF)
    except OSError:
        return False
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head.decode("utf-16", errors="replace").encode()
    # No TOML line starts with '+-o ' (not even a comment), so any such line decides.
    mark = _DUMP_MARK.encode()
    return any(line.lstrip(b"\xef\xbb\xbf \t|>").startswith(mark)
               for line in head.splitlines()[:_DUMP_SNIFF_LINES])


def _unknown(text: str) -> MachineModelError:
    known = [name for name, _ in list_machines()]
    close = difflib.get_close_matches(text, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    hint += f"known machines: {', '.join(known)}; or give a .toml model or an ioreg dump path"
    looks_like_path = text.endswith((".toml", ".txt")) or "/" in text
    if looks_like_path:
        return MachineModelError(f"no machine-model file at {text}", reference=E.NOT_FOUND,
                                 file=text, hint=hint)
    return MachineModelError(f"unknown machine '{text}'", reference=E.UNKNOWN_MACHINE,
                             hint=hint)
