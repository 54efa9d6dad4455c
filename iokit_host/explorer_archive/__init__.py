"""Machines from IORegistryExplorer archives (the ``.ioreg`` files its File > Save writes) and from
the property list ``ioreg -a`` writes.

An IORegistryExplorer archive is an ``NSKeyedArchiver`` binary property list of
``RexRegistryEntry`` objects: every entry of every plane (IOService, IODeviceTree, IOPower,
IOACPIPlane, IOUSB, ...) with its links, names and locations per plane, properties, state, busy
count, owning bundle and class chain. :func:`import_archive` reads one into a
:class:`~iokit_host.machine.model.MachineModel` that holds all of it (the rules are in
:mod:`.build`); the chains become the machine's own class ancestry. ``ioreg -a`` output (XML,
or binary) is recognised by its shape and read by :mod:`iokit_host.ioreg_import.plist`.

Archives are untrusted input: the object graph is walked on explicit stacks by reference
(:mod:`.keyed`), cycles are met as repeated indexes, and sizes are bounded
(:data:`MAX_ARCHIVE_BYTES`, :data:`~.entries.MAX_ENTRIES`, values as
:mod:`iokit_host.ioreg_import.cfvalues` bounds them). A damaged archive imports with only the
damage lost, one ``ioreg-archive-*`` warning per kind in ``model.diagnostics``; with ``strict``
(default ``IOKIT_STRICT``) the first damage refuses it. A file that is no archive at all raises
:class:`ArchiveInvalid` (``ioreg-archive-invalid``) naming the file, the key and the reason.
"""

from __future__ import annotations

import codecs
from dataclasses import replace
from pathlib import Path
from typing import Any

from iokit_host.errors import Diagnostic, Severity
from iokit_host.explorer_archive.build import build_archive_model
from iokit_host.explorer_archive.damage import ArchiveDamage
from iokit_host.explorer_archive.entries import read_entries
from iokit_host.explorer_archive.errors import ArchiveInvalid
from iokit_host.explorer_archive.keyed import NULL, ArchiveFault, KeyedArchive
from iokit_host.explorer_archive.plistdata import PlistUnreadable, load_plist
from iokit_host.input_file import read_input_file
from iokit_host.ioreg_import.errors import IoregDumpInvalid
from iokit_host.ioreg_import.plist import is_ioreg_plist, plist_model
from iokit_host.kext.plistbinary import array_count_disagrees, array_from_bytes
from iokit_host.kext.plistrepair import Repair
from iokit_host.kext.plistvalues import UnreadableValue
from iokit_host.machine.model import MachineModel
from iokit_host.settings import env_flag

__all__ = ["MAX_ARCHIVE_BYTES", "ArchiveInvalid", "import_archive", "looks_like_plist",
           "parse_archive"]

#: Most bytes read from an archive; real ones are a few megabytes.
MAX_ARCHIVE_BYTES = 256 << 20
_PLIST_STARTS = (b"bplist", b"<?xml", b"<plist", b"<!DOCTYPE plist")


def looks_like_plist(head: bytes) -> bool:
    """True when a file's first bytes are a property list's (binary or XML, after a BOM)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head.decode("utf-16", errors="replace").encode("utf-8", errors="replace")
    return head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(_PLIST_STARTS)


def import_archive(path: str | Path, *, strict: bool | None = None) -> MachineModel:
    """The machine an IORegistryExplorer archive, or ``ioreg -a`` output, at ``path`` records.

    :raises ArchiveInvalid: it cannot be read, or is neither (or, strict, is damaged).
    """
    path = Path(path)
    try:
        data = read_input_file(path, limit=MAX_ARCHIVE_BYTES)
    except OSError as error:
        what = "a folder" if isinstance(error, IsADirectoryError) else error.strerror or error
        raise ArchiveInvalid(f"cannot read the archive: {what}", file=str(path),
                             hint="give the path of an IORegistryExplorer archive (.ioreg) "
                                  "or of ioreg -a output") from None
    return parse_archive(data, source=str(path), strict=strict)


def parse_archive(data: bytes, *, source: str = "<archive>",
                  strict: bool | None = None) -> MachineModel:
    """The machine model of an archive's (or ``ioreg -a`` output's) bytes."""
    strict = env_flag("IOKIT_STRICT") if strict is None else strict
    repairs: list[Repair] = []
    document = _load(data, source, repairs)
    document = _with_objects_salvaged(document, data, source, repairs)
    if repairs and strict:
        first = repairs[0]
        raise ArchiveInvalid(first.what, file=source,
                             hint=f"{first.hint}; strict mode refuses a damaged file")
    model = _document_model(document, source, strict)
    if repairs:
        notes = tuple(Diagnostic(repair.reference, f"{repair.what}; {repair.outcome}",
                                 file=source, hint=repair.hint, severity=Severity.WARNING)
                      for repair in repairs)
        model = replace(model, diagnostics=(*model.diagnostics, *notes))
    return model


def _document_model(document: Any, source: str, strict: bool) -> MachineModel:
    if isinstance(document, dict) and "$archiver" in document:
        return _keyed_model(document, source, strict)
    if is_ioreg_plist(document):
        try:
            return plist_model(document, source=source, strict=strict)
        except IoregDumpInvalid as error:
            raise ArchiveInvalid(error.diagnostic.message, file=source,
                                 key=error.diagnostic.key, hint=error.diagnostic.hint) from None
    raise ArchiveInvalid("this property list is neither an IORegistryExplorer archive nor "
                         "ioreg -a output", file=source, key="$archiver",
                         hint="save the registry in IORegistryExplorer (File > Save), or "
                              "with ioreg -a -l > FILE.plist")


def _load(data: bytes, source: str, repairs: list[Repair]) -> Any:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        data = data.decode("utf-16", errors="replace").encode("utf-8")
    elif not data.startswith(b"bplist") and data[:4096].count(0) * 4 >= len(data[:4096]) > 0:
        # XML saved as UTF-16 without its mark: the NUL byte comes first in big-endian.
        codec = "utf-16-be" if data[:1] == b"\0" else "utf-16-le"
        data = data.decode(codec, errors="replace").encode("utf-8")
    data = data.removeprefix(codecs.BOM_UTF8).lstrip()
    try:
        return load_plist(data, repairs=repairs)
    except PlistUnreadable as error:
        raise ArchiveInvalid(f"not a readable property list ({error.reason})", file=source,
                             key="$objects", hint="the file is damaged or not an archive; "
                             "attach the file IORegistryExplorer or ioreg -a wrote") from None


OBJECTS_SALVAGED = "ioreg-archive-objects-salvaged"


def _with_objects_salvaged(document: Any, data: bytes, source: str,
                           repairs: list[Repair]) -> Any:
    """A binary archive whose ``$objects`` array cannot be read as written (its marker
    damaged, or its count: one byte of tens of thousands of objects), with the array read
    from its bytes instead (:func:`~iokit_host.kext.plistbinary.array_from_bytes`, sure of
    its place only when its first item is ``"$null"``), noted in ``repairs``; ``document``
    as it is otherwise.

    :raises ArchiveInvalid: its count is damaged and its references cannot be found (read
        as its count says, the array takes in other objects' bytes as references, or loses
        its last ones: every entry would be read wrong, many warnings for one damage)."""
    if not isinstance(document, dict) or "$archiver" not in document:
        return document
    objects = document.get("$objects")
    claimed = None
    if isinstance(objects, list) and objects:
        claimed = array_count_disagrees(data, "$objects")
        if claimed is None:
            return document
    found = array_from_bytes(data, "$objects", NULL)
    if found is None:
        if claimed is None:
            return document
        raise ArchiveInvalid(
            f"the archive's object list ($objects) is damaged: its count ({claimed}) does not "
            "fit its bytes, and its references cannot be told from them", file=source,
            key="$objects", hint=_DAMAGED_HINT)
    items, count = found
    if claimed is not None:
        why = f"its count, {claimed}, does not fit its bytes"
    else:
        why = objects.reason if isinstance(objects, UnreadableValue) else "not an array"
    repairs.append(Repair(
        OBJECTS_SALVAGED, f"the archive's object list ($objects) cannot be read ({why})",
        f"its {count} references were read from its bytes, and the objects through them; "
        "any object damaged with it is lost", _DAMAGED_HINT))
    return {**document, "$objects": items}


_DAMAGED_HINT = ("the file was damaged (a changed byte in mail or on a disk): attach the file "
                 "IORegistryExplorer wrote, unedited")


def _keyed_model(document: Any, source: str, strict: bool) -> MachineModel:
    try:
        archive = KeyedArchive(document)
    except ArchiveFault as fault:
        raise ArchiveInvalid(fault.reason, file=source, key=fault.where,
                             hint="save the registry in IORegistryExplorer (File > Save)"
                             ) from None
    damage = ArchiveDamage(source, strict=strict)
    entries = read_entries(archive, damage)
    if not entries:
        raise ArchiveInvalid("the archive holds no readable registry entry", file=source,
                             key="$top.root.registryEntries",
                             hint="save the whole registry in IORegistryExplorer")
    return build_archive_model(entries, source=source, damage=damage)
