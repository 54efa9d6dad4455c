"""Importing real machines from ``ioreg`` text dumps (the inverse of IOKitTools' ``ioreg -lw0``).

``parse_dump`` reads the text of a dump (any plane, with or without properties, modern or
PowerPC-era headers, ``-i`` class chains) into a :class:`~iokit_host.machine.model.MachineModel`;
``import_dump`` reads a file. Nubs keep their classes, names, locations and typed properties;
the drivers macOS bound are kept as ``recorded_driver=True`` nodes (see
:mod:`iokit_host.ioreg_import.model` for the rule). Anything that is not a dump, or a line that
cannot be read, raises :class:`IoregDumpInvalid` (``ioreg-dump-invalid``) naming the file, the
line and the reason.

Bytes that are not UTF-8 (user names in older dumps) are replaced with U+FFFD rather than
refused: they occur in names and strings, never in the structure.
"""

from __future__ import annotations

from pathlib import Path

from iokit_host.ioreg_import.errors import IoregDumpInvalid
from iokit_host.ioreg_import.model import build_model, detect_plane, is_recorded_driver
from iokit_host.ioreg_import.tree import DumpNode, read_tree
from iokit_host.machine.model import MachineModel

__all__ = [
    "DumpNode",
    "IoregDumpInvalid",
    "detect_plane",
    "import_dump",
    "is_recorded_driver",
    "looks_like_dump",
    "parse_dump",
    "read_tree",
]


def parse_dump(text: str, *, source: str = "<text>", plane: str | None = None) -> MachineModel:
    """The machine model of an ioreg dump's text.

    :param source: where the text came from, named in errors and kept as ``model.source``.
    :param plane: the plane the dump shows (``IOService``, ``IODeviceTree``); None detects it.
    :raises IoregDumpInvalid: not a dump, or a malformed line.
    """
    return build_model(read_tree(text, source), source=source, plane=plane)


def import_dump(path: str | Path, *, plane: str | None = None) -> MachineModel:
    """The machine model of the ioreg dump in the file at ``path`` (see :func:`parse_dump`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise IoregDumpInvalid(f"cannot read the dump: {error.strerror}", file=str(path),
                               hint="check the path") from None
    return parse_dump(raw.decode("utf-8", errors="replace"), source=str(path), plane=plane)


def looks_like_dump(head: str) -> bool:
    """True when text (its first lines suffice) starts the way an ioreg dump does."""
    for line in head.splitlines():
        content = line.lstrip(" |")
        if content.strip():
            return content.startswith("+-o ") and "<class " in content
    return False
