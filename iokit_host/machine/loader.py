"""Finding a machine to boot: ``--machine`` names a built-in model, a model file, an ioreg dump,
or ``host`` (on a Mac the machine is simply the one the kernel runs on).

``load_machine(spec)`` accepts None (the built-in ``default``), a :class:`MachineModel`, a
built-in name, a path to a ``.toml`` model, the word ``host`` (this Linux machine, read from
``/sys``), or a path to an ``ioreg`` text dump, an IORegistryExplorer archive or ``ioreg -a``
output, each recognised by its structure whatever its name (:mod:`iokit_host.machine.sniff`).
A damaged dump or archive imports with warnings in ``model.diagnostics``; ``strict`` refuses
it instead.
"""

from __future__ import annotations

import importlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from iokit_host.errors import did_you_mean
from iokit_host.machine import errors as E
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.format import parse_machine, read_machine
from iokit_host.machine.model import MachineModel
from iokit_host.machine.sniff import file_kind
from iokit_host.path_reason import path_problem

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["DEFAULT_MACHINE", "HOST_MACHINE", "import_archive", "import_dump", "list_machines",
           "load_machine", "read_machine_file"]

DEFAULT_MACHINE = "default"
HOST_MACHINE = "host"
_BUILTIN_PACKAGE = "iokit_host.machine.builtin"


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
    if os.path.isfile(path):  # Path.is_file raises on a name too long for the system
        return read_machine_file(path, strict=strict)
    raise _unknown(text)


def read_machine_file(path: str | Path, *, strict: bool | None = None) -> MachineModel:
    """The machine in the file at ``path``, whatever its kind (:func:`~.sniff.file_kind`): a
    model, an ioreg text dump, an IORegistryExplorer archive or ``ioreg -a`` output."""
    kind = file_kind(Path(path))
    if kind == "dump":
        return import_dump(path, strict=strict)
    if kind == "plist":
        return import_archive(path, strict=strict)
    if kind == "zip":
        from iokit_host.machine.zipped import read_zipped

        return read_zipped(Path(path), strict=strict)
    return read_machine(path)


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


def import_archive(path: str | Path, *, strict: bool | None = None) -> MachineModel:
    """A model of the machine an IORegistryExplorer archive or ``ioreg -a`` output records
    (``iokit_host.explorer_archive``, imported by name: it builds on this package).

    :param strict: refuse a damaged archive; None reads ``IOKIT_STRICT``.
    """
    module = importlib.import_module("iokit_host.explorer_archive")
    model = module.import_archive(path, strict=strict)
    if not isinstance(model, MachineModel):
        raise MachineModelError(f"the archive reader returned {type(model).__name__}",
                                reference=E.IMPORT_UNAVAILABLE, file=str(path))
    return model


def _builtin_files() -> dict[str, Traversable]:
    folder = _builtin_folder()
    return {entry.name[:-5]: entry for entry in folder.iterdir()
            if entry.name.endswith(".toml") and entry.is_file()}


def _builtin_folder() -> Traversable:
    """The built-in machines' folder: the package's own directory when it is one (what
    ``importlib.resources`` answers then too, without its import, a share of a boot's
    start-up), else what ``importlib.resources`` finds (a zipped install)."""
    package = importlib.import_module(_BUILTIN_PACKAGE)
    where = os.path.dirname(package.__file__ or "")
    if where and os.path.isdir(where):
        return Path(where)
    from importlib import resources

    return resources.files(_BUILTIN_PACKAGE)


def _description(text: str) -> str:
    import tomllib  # only to list the machines

    try:
        machine = tomllib.loads(text).get("machine", {})
    except tomllib.TOMLDecodeError:
        return "(unreadable)"
    description = machine.get("description", "") if isinstance(machine, dict) else ""
    return description if isinstance(description, str) else ""


def _not_a_file(text: str) -> str | None:
    """What stands at ``text`` when it is there but is no regular file: a folder, a pipe, a
    device; None when nothing is there."""
    try:
        mode = os.stat(text).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (its kind is told from its start, then it is read whole: give a file)"
    return "a device or special file"


def _unknown(text: str) -> MachineModelError:
    known = [name for name, _ in list_machines()]
    guess = did_you_mean(text, known)
    hint = f"{guess} " if guess else ""
    hint += f"known machines: {', '.join(known)}; or give a .toml model or an ioreg dump path"
    looks_like_path = text.endswith((".toml", ".txt")) or "/" in text
    problem = path_problem(text)
    if problem is not None:  # a loop of links, a link to nothing, a folder not to be searched
        return MachineModelError(f"cannot read {text}: {problem}", reference=E.NOT_FOUND,
                                 file=text, hint="give a model file or dump that can be read")
    kind = _not_a_file(text)
    if kind is not None:  # there, but nothing a machine is read from
        return MachineModelError(f"{text} is {kind}, not a machine-model file or dump",
                                 reference=E.NOT_FOUND, file=text, hint=hint)
    if looks_like_path:
        return MachineModelError(f"no machine-model file at {text}", reference=E.NOT_FOUND,
                                 file=text, hint=hint)
    return MachineModelError(f"unknown machine '{text}'", reference=E.UNKNOWN_MACHINE,
                             hint=hint)
