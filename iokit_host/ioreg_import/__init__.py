"""Importing real machines from ``ioreg`` text dumps (the inverse of IOKitTools' ``ioreg -lw0``).

``parse_dump`` reads the text of a dump (any plane, with or without properties, modern or
PowerPC-era headers, ``-i`` class chains) into a :class:`~iokit_host.machine.model.MachineModel`;
``import_dump`` reads a file. Nubs keep their classes, names, locations and typed properties;
the drivers macOS bound are kept as ``recorded_driver=True`` nodes (see
:mod:`iokit_host.ioreg_import.model` for the rule).

Damaged dumps import with only the damage lost: redacted values, CRLF or CR line endings,
a pasted indent or tabs, lines wrapped by a mail client, curly quotes, NUL bytes, a prompt line,
a cut-off tail, repeated lines, clipped lines, edited ids, a copy out of a web page (``&lt;``). Each kind of damage becomes one
warning in ``model.diagnostics`` (see :mod:`iokit_host.ioreg_import.damage`). Lines that are not
UTF-8 (user names in older dumps) are read as Mac OS Roman, Windows-1252 or Latin-1. Past the size of any
real registry (:data:`MAX_DUMP_BYTES`, ``tree.MAX_ENTRIES``) the rest is not read. With ``strict`` (default: ``IOKIT_STRICT``) the first damage refuses the dump
instead. Text that is not a dump at all, or a file that cannot be read, raises
:class:`IoregDumpInvalid` (``ioreg-dump-invalid``) naming the file, the line and the reason.
"""

from __future__ import annotations

from pathlib import Path

from iokit_host.input_file import read_input_head
from iokit_host.ioreg_import.damage import TOO_LARGE, DumpDamage
from iokit_host.ioreg_import.errors import IoregDumpInvalid
from iokit_host.ioreg_import.markup import unescape_markup
from iokit_host.ioreg_import.model import build_model, detect_plane, is_recorded_driver
from iokit_host.ioreg_import.text import decode_dump
from iokit_host.ioreg_import.tree import DumpNode, read_tree
from iokit_host.machine.model import MachineModel
from iokit_host.settings import env_flag

#: Most bytes read from a dump file; the largest real dumps (``ioreg -lw0`` with
#: IOKitDiagnostics) are a few megabytes.
MAX_DUMP_BYTES = 64 << 20

__all__ = [
    "MAX_DUMP_BYTES",
    "DumpNode",
    "IoregDumpInvalid",
    "detect_plane",
    "import_dump",
    "is_recorded_driver",
    "looks_like_dump",
    "parse_dump",
    "read_tree",
]


def parse_dump(text: str | bytes, *, source: str = "<text>", plane: str | None = None,
               strict: bool | None = None) -> MachineModel:
    """The machine model of an ioreg dump's text (or its file's bytes).

    :param source: where the text came from, named in errors and kept as ``model.source``.
    :param plane: the plane the dump shows (``IOService``, ``IODeviceTree``); None detects it.
    :param strict: refuse the dump at its first damage; None reads ``IOKIT_STRICT``.
    :raises IoregDumpInvalid: not a dump (or, strict, a damaged one).
    """
    return _parse(text, _damage(source, strict), source=source, plane=plane)


def import_dump(path: str | Path, *, plane: str | None = None,
                strict: bool | None = None) -> MachineModel:
    """The machine model of the ioreg dump in the file at ``path`` (see :func:`parse_dump`).

    Only the first :data:`MAX_DUMP_BYTES` are read (``ioreg-dump-too-large``): no registry's
    dump comes near, and a file of repeated text must not take the memory.
    """
    path = Path(path)
    damage = _damage(str(path), strict)
    return _parse(_read_head(path, damage), damage, source=str(path), plane=plane)


def _damage(source: str, strict: bool | None) -> DumpDamage:
    return DumpDamage(source, strict=env_flag("IOKIT_STRICT") if strict is None else strict)


def _parse(text: str | bytes, damage: DumpDamage, *, source: str,
           plane: str | None) -> MachineModel:
    _refuse_property_list(text[:64], source)
    if isinstance(text, bytes):
        text = decode_dump(text, damage)  # the bytes are no longer held: only the text
    text = unescape_markup(text, damage)
    root = read_tree(text, source, damage=damage)
    return build_model(root, source=source, plane=plane, damage=damage)


def _refuse_property_list(head: str | bytes, source: str) -> None:
    """Refuse, naming what it is, the archive ``ioreg -a`` writes (an XML property list) or
    IORegistryExplorer saves (a binary one): the same registry, in a form this reader does
    not take."""
    start = head.encode("latin-1", errors="replace") if isinstance(head, str) else head
    start = start.removeprefix(b"\xef\xbb\xbf").lstrip()
    if start.startswith((b"bplist", b"<?xml", b"<plist", b"<!DOCTYPE plist")):
        raise IoregDumpInvalid("this is a property list (ioreg -a, or an IORegistryExplorer "
                               "archive), not ioreg's text output", file=source, key="line 1",
                               hint="give it as a machine (--machine FILE, iokit machine "
                                    "import), which reads property lists too; or dump the "
                                    "registry as text: ioreg -lw0 > dump.txt")


def _read_head(path: Path, damage: DumpDamage) -> bytes:
    """The file's first :data:`MAX_DUMP_BYTES`, cut after a whole line when there is more. A
    pipe (``<(ssh mac ioreg -lw0)``) is read to its end, a FIFO nobody writes to as empty."""
    try:
        raw = read_input_head(path, MAX_DUMP_BYTES + 1)
    except OSError as error:
        what = "a folder" if isinstance(error, IsADirectoryError) else error.strerror or error
        raise IoregDumpInvalid(f"cannot read the dump: {what}", file=str(path),
                               hint="give the path of an ioreg text dump (ioreg -lw0 > dump.txt)"
                               ) from None
    if len(raw) <= MAX_DUMP_BYTES:
        return raw
    head = raw[:raw.rfind(b"\n", 0, MAX_DUMP_BYTES) + 1]
    lines = head.count(b"\n")
    damage.note(TOO_LARGE, lines + 1, f"the file is larger than {MAX_DUMP_BYTES >> 20} MiB; "
                f"what follows line {lines} was not read")
    return head


def looks_like_dump(head: str) -> bool:
    """True when text (its first lines suffice) holds an ioreg entry line (``+-o ... <class``);
    a prompt line or a pasted indent may come before it."""
    return any(line.lstrip(" \t|>").startswith("+-o ") and "<class " in line
               for line in head.splitlines()[:40])
