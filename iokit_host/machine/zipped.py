"""A machine inside a zip: how IORegistryExplorer archives and ioreg dumps are shared (a Mac's
``.ioreg`` saved, zipped and attached to a forum post or a repository).

No IOKit counterpart. ``read_zipped(path)`` picks the registry the zip holds: the members that
are an IORegistryExplorer archive or ``ioreg -a`` output come first, then text dumps (each
told by its structure, :mod:`.sniff`), a ``.ioreg`` first within each; macOS's ``__MACOSX/`` resource forks and folders are
skipped. When several qualify, the first is read and a warning names the others
(``machine-zip-several``). A member larger than :data:`MAX_MEMBER_BYTES` is not read (a zip
can claim or expand to anything), and a zip that cannot be read, or holds no registry, is a
``machine-zip-unreadable`` error naming the file and the reason.
"""

from __future__ import annotations

import importlib
import io
import zipfile
from dataclasses import replace
from pathlib import Path

from iokit_host.errors import Diagnostic, Severity
from iokit_host.input_file import read_input_file
from iokit_host.machine import errors as E
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.model import MachineModel
from iokit_host.machine.sniff import kind_of_head

__all__ = ["MAX_MEMBER_BYTES", "read_zipped"]

#: The most bytes read from the zip file or one member: past any registry's archive or dump.
MAX_MEMBER_BYTES = 256 << 20
_HEAD = 64 << 10
_MAX_MEMBERS = 10_000


def read_zipped(path: Path, *, strict: bool | None = None) -> MachineModel:
    """The machine the zip at ``path`` holds (see the module doc)."""
    try:
        data = read_input_file(path, limit=MAX_MEMBER_BYTES)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            found = _candidates(archive, str(path))
            if not found:
                raise _unreadable(path, "it holds no IORegistryExplorer archive, ioreg -a "
                                  "output or ioreg dump")
            kind, info = found[0]
            member = _read_member(archive, info, path)
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, ValueError,
            NotImplementedError, EOFError) as error:
        # RuntimeError: an encrypted member; NotImplementedError: a compression it lacks.
        raise _unreadable(path, str(error) or type(error).__name__) from None
    source = f"{path}:{info.filename}"
    model = _parse(kind, member, source, strict)
    if len(found) > 1:
        others = ", ".join(other.filename for _, other in found[1:6])
        note = Diagnostic("machine-zip-several", f"the zip holds {len(found)} registries; read "
                          f"{info.filename}, not {others}", file=str(path), key=info.filename,
                          hint="unzip it and give the one you mean", severity=Severity.WARNING)
        model = replace(model, diagnostics=(*model.diagnostics, note))
    return model


def _candidates(archive: zipfile.ZipFile, where: str) -> list[tuple[str, zipfile.ZipInfo]]:
    """``(kind, member)`` of each member holding a registry: property lists first."""
    infos = archive.infolist()[:_MAX_MEMBERS]
    found: list[tuple[int, int, str, zipfile.ZipInfo]] = []
    for order, info in enumerate(infos):
        name = info.filename
        if info.is_dir() or name.startswith("__MACOSX/") or "/._" in f"/{name}":
            continue
        if info.file_size > MAX_MEMBER_BYTES:
            continue
        with archive.open(info) as stream:
            kind = kind_of_head(stream.read(_HEAD), complete=info.file_size <= _HEAD)
        if kind in ("plist", "dump") or (kind is None and name.lower().endswith(".txt")):
            # Property lists first; among each kind a ``.ioreg`` (what IORegistryExplorer
            # saves, the file people mean to share) before the rest.
            rank = (0 if kind == "plist" else 2) + (0 if name.endswith(".ioreg") else 1)
            found.append((rank, order, kind or "dump", info))
    found.sort(key=lambda item: (item[0], item[1]))
    return [(kind, info) for _, _, kind, info in found]


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    with archive.open(info) as stream:
        data = stream.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise _unreadable(path, f"{info.filename} expands past {MAX_MEMBER_BYTES >> 20} MiB")
    return data


def _parse(kind: str, data: bytes, source: str, strict: bool | None) -> MachineModel:
    if kind == "plist":
        module = importlib.import_module("iokit_host.explorer_archive")
        model = module.parse_archive(data, source=source, strict=strict)
    else:
        module = importlib.import_module("iokit_host.ioreg_import")
        model = module.parse_dump(data, source=source, strict=strict)
    if not isinstance(model, MachineModel):
        raise MachineModelError(f"the reader returned {type(model).__name__}",
                                reference=E.IMPORT_UNAVAILABLE, file=source)
    return model


def _unreadable(path: Path, reason: str) -> MachineModelError:
    return MachineModelError(f"cannot read the zip: {reason}", reference=E.ZIP_UNREADABLE,
                             file=str(path), hint="unzip it and give the .ioreg archive or "
                             "the ioreg dump inside")
