"""A machine inside a zip: how IORegistryExplorer archives and ioreg dumps are shared (a Mac's
``.ioreg`` saved, zipped and attached to a forum post or a repository).

No IOKit counterpart. ``read_zipped(path)`` picks the registry the zip holds: the members that
are an IORegistryExplorer archive or ``ioreg -a`` output come first, then text dumps (each
told by its structure, :mod:`.sniff`), a ``.ioreg`` first within each; macOS's ``__MACOSX/`` resource forks and folders are
skipped. When several qualify, the first is read and a warning names the others
(``machine-zip-several``). A member larger than :data:`MAX_MEMBER_BYTES` is not read (a zip
can claim or expand to anything), nor is a damaged one (a bad CRC or compressed stream, an
encrypted member): the others are still read, and a warning names it
(``machine-zip-member-unreadable``). A dump member is held to the bound a dump file is
(:data:`~iokit_host.ioreg_import.MAX_DUMP_BYTES`): only that much is expanded, cut after its
last whole line, with the same ``ioreg-dump-too-large`` warning. A zip that cannot be read,
or holds no readable registry, is a ``machine-zip-unreadable`` error naming the file and the
reason.
"""

from __future__ import annotations

import importlib
import io
import lzma
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path

from iokit_host.errors import Diagnostic, Severity
from iokit_host.input_file import read_input_file
from iokit_host.machine import errors as E
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.model import MachineModel
from iokit_host.machine.sniff import kind_of_head
from iokit_host.settings import env_flag

__all__ = ["MAX_MEMBER_BYTES", "read_zipped"]

#: The most bytes read from the zip file or one member: past any registry's archive or dump.
MAX_MEMBER_BYTES = 256 << 20
_HEAD = 64 << 10
_MAX_MEMBERS = 10_000


def read_zipped(path: Path, *, strict: bool | None = None) -> MachineModel:
    """The machine the zip at ``path`` holds (see the module doc)."""
    try:
        data = read_input_file(path, limit=MAX_MEMBER_BYTES)
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as error:
        raise _unreadable(path, _reason(error)) from None
    with archive:
        found, skipped = _candidates(archive)
        chosen: tuple[str, zipfile.ZipInfo, bytes] | None = None
        for kind, info in found:
            try:
                chosen = kind, info, _read_member(archive, info, kind)
                break
            except _ZIP_ERRORS as error:  # a damaged member costs only itself
                skipped.append((info.filename, _reason(error)))
    if chosen is None:
        reason = "it holds no IORegistryExplorer archive, ioreg -a output or ioreg dump"
        if skipped:
            reason += " that can be read (" + "; ".join(
                f"{name}: {why}" for name, why in skipped[:3]) + ")"
        raise _unreadable(path, reason)
    kind, info, member = chosen
    source = f"{path}:{info.filename}"
    model = _parse(kind, member, source, strict)
    notes = []
    others = [other.filename for _, other in found if other is not info
              and other.filename not in dict(skipped)]
    if others:
        notes.append(Diagnostic(
            "machine-zip-several", f"the zip holds {len(others) + 1} registries; read "
            f"{info.filename}, not {', '.join(others[:5])}", file=str(path), key=info.filename,
            hint="unzip it and give the one you mean", severity=Severity.WARNING))
    if skipped:
        notes.append(Diagnostic(
            "machine-zip-member-unreadable", f"{len(skipped)} member(s) could not be read, "
            f"the first {skipped[0][0]}: {skipped[0][1]}; read {info.filename}",
            file=str(path), key=skipped[0][0], severity=Severity.WARNING,
            hint="unzip what can be read and give the file you mean"))
    if notes:
        model = replace(model, diagnostics=(*model.diagnostics, *notes))
    return model


#: What reading a damaged zip or member raises: a bad CRC, deflate, LZMA or bzip2 stream
#: (``zlib.error``, ``lzma.LZMAError``, ``OSError``), an encrypted member (``RuntimeError``),
#: a compression ``zipfile`` lacks (``NotImplementedError``), a cut member (``EOFError``).
_ZIP_ERRORS = (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, ValueError,
               NotImplementedError, EOFError, zlib.error, lzma.LZMAError)


class _TooLarge(ValueError):
    """A member that expands past :data:`MAX_MEMBER_BYTES` whatever its header claimed."""


def _reason(error: BaseException) -> str:
    if isinstance(error, RuntimeError) and "encrypted" in str(error):
        return "it is encrypted (a password is needed)"
    if isinstance(error, zlib.error | lzma.LZMAError):
        return f"its compressed data is damaged ({error})"
    return str(error) or type(error).__name__


def _candidates(archive: zipfile.ZipFile
                ) -> tuple[list[tuple[str, zipfile.ZipInfo]], list[tuple[str, str]]]:
    """``(kind, member)`` of each member holding a registry, property lists first; and
    ``(name, reason)`` of each member that could not be looked at."""
    infos = archive.infolist()[:_MAX_MEMBERS]
    found: list[tuple[int, int, str, zipfile.ZipInfo]] = []
    skipped: list[tuple[str, str]] = []
    for order, info in enumerate(infos):
        name = info.filename
        if not name:  # ZipInfo.is_dir() raises IndexError on it; no writer names none
            skipped.append(("(a member with no name)", "it has no name: the zip is damaged"))
            continue
        if info.is_dir() or name.startswith("__MACOSX/") or "/._" in f"/{name}":
            continue
        try:
            with archive.open(info) as stream:
                kind = kind_of_head(stream.read(_HEAD), complete=info.file_size <= _HEAD)
        except _ZIP_ERRORS as error:
            skipped.append((name, _reason(error)))
            continue
        if kind == "plist" and info.file_size > MAX_MEMBER_BYTES:
            # A dump is cut, as a dump file is; an archive cut short loses its index.
            skipped.append((name, f"larger than {MAX_MEMBER_BYTES >> 20} MiB"))
            continue
        if kind in ("plist", "dump") or (kind is None and name.lower().endswith(".txt")):
            # Property lists first; among each kind a ``.ioreg`` (what IORegistryExplorer
            # saves, the file people mean to share) before the rest.
            rank = (0 if kind == "plist" else 2) + (0 if name.endswith(".ioreg") else 1)
            found.append((rank, order, kind or "dump", info))
    found.sort(key=lambda item: (item[0], item[1]))
    return [(kind, info) for _, _, kind, info in found], skipped


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, kind: str) -> bytes:
    """The member's bytes: a dump's first bytes past its bound (to be cut, :func:`_parse`),
    an archive's whole, refused past :data:`MAX_MEMBER_BYTES`."""
    limit = _member_limit(kind)
    with archive.open(info) as stream:
        data = stream.read(limit + 1)
    if kind == "plist" and len(data) > limit:
        raise _TooLarge(f"it expands past {limit >> 20} MiB")
    return data


def _member_limit(kind: str) -> int:
    if kind == "plist":
        return MAX_MEMBER_BYTES
    return int(importlib.import_module("iokit_host.ioreg_import").MAX_DUMP_BYTES)


def _parse(kind: str, data: bytes, source: str, strict: bool | None) -> MachineModel:
    if kind == "plist":
        module = importlib.import_module("iokit_host.explorer_archive")
        model = module.parse_archive(data, source=source, strict=strict)
    else:
        cut: Diagnostic | None = None
        limit = _member_limit(kind)
        if len(data) > limit:
            data, cut = _cut_dump(data, limit, source, strict)
        module = importlib.import_module("iokit_host.ioreg_import")
        model = module.parse_dump(data, source=source, strict=strict)
        if cut is not None and isinstance(model, MachineModel):
            model = replace(model, diagnostics=(cut, *model.diagnostics))
    if not isinstance(model, MachineModel):
        raise MachineModelError(f"the reader returned {type(model).__name__}",
                                reference=E.IMPORT_UNAVAILABLE, file=source)
    return model


def _cut_dump(data: bytes, limit: int, source: str, strict: bool | None
              ) -> tuple[bytes, Diagnostic]:
    """The dump's first ``limit`` bytes cut after a whole line, and the warning a dump file
    that long gets (``ioreg_import.import_dump``); strict, the refusal it gets."""
    damage_module = importlib.import_module("iokit_host.ioreg_import.damage")
    strict = env_flag("IOKIT_STRICT") if strict is None else strict
    damage = damage_module.DumpDamage(source, strict=strict)
    head = data[:data.rfind(b"\n", 0, limit) + 1]
    lines = head.count(b"\n")
    damage.note(damage_module.TOO_LARGE, lines + 1, f"the file is larger than {limit >> 20} "
                f"MiB; what follows line {lines} was not read")
    (warning,) = damage.diagnostics()
    return head, warning


def _unreadable(path: Path, reason: str) -> MachineModelError:
    return MachineModelError(f"cannot read the zip: {reason}", reference=E.ZIP_UNREADABLE,
                             file=str(path), hint="unzip it and give the .ioreg archive or "
                             "the ioreg dump inside")
