"""What a ``--machine`` file is: a model (TOML), an ``ioreg`` text dump, or a property list (an
IORegistryExplorer archive or ``ioreg -a`` output), told by its structure, not its name.

No IOKit counterpart. People attach whatever they have, named however: ``.txt``, ``.ioreg``,
``.plist``, no extension. The rules, bounded (at most :data:`SNIFF_LIMIT` bytes are looked at)
but not fooled by a long head:

- a property list starts, after a byte-order mark and blanks, with ``bplist``, ``<?xml``,
  ``<plist`` or ``<!DOCTYPE plist``;
- a dump holds an entry line (``+-o Name  <class ...``, after any ``| `` guides, a pasted
  indent or a quoting ``>``) before any of a model's table headers (``[machine]``,
  ``[[nub]]`` at the start of a line, which no dump line is; a forum's ``[code]`` is none):
  so a dump whose first entry comes after a huge property block (a Root
  ``IOKitDiagnostics`` line of hundreds of kilobytes, a pasted prompt) is still one, and a
  model whose multi-line string quotes a dump is still a model;
- UTF-16 text, with or without its byte-order mark (NUL bytes between ASCII ones), is looked
  at as the characters it holds;
- a zip (``PK\x03\x04``, or ``PK\x05\x06`` when empty) is one, whose registry :mod:`.zipped` picks;
- anything else is a model, whose reader says what is wrong with it.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path
from typing import Literal

from iokit_host.input_file import read_input_head

__all__ = ["SNIFF_LIMIT", "FileKind", "file_kind", "kind_of_head"]

FileKind = Literal["model", "dump", "plist", "zip"]

#: The most bytes looked at: past the longest head a real dump has before its first entry.
SNIFF_LIMIT = 8 << 20
_FIRST_LOOK = 64 << 10
_PLIST_STARTS = (b"bplist", b"<?xml", b"<plist", b"<!DOCTYPE plist")
#: A zip's first member, or an empty zip's end record.
_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")
_ENTRY_MARK = b"+-o "
_ENTRY_GLYPHS = b"\xef\xbb\xbf \t|>"
#: A model's table header alone on its line (a comment may follow): its first key is one of a
#: model's tables (``document._TOP_KEYS``), as in ``[machine]``, ``[[ nub ]]`` or
#: ``[nub.properties]``. A line such as ``[code]`` (a forum's markup around a pasted dump) or
#: ``[quote]`` is no model's.
_TOML_HEADER = re.compile(
    rb"\[\[?\s*(?P<q>[\"']?)(?:machine|classes|root-properties|nub|entry)(?P=q)"
    rb"\s*(?:\.[A-Za-z0-9_.\"' -]*)?\]\]?\s*(#.*)?\r?")


def file_kind(path: Path) -> FileKind:
    """The kind of the file at ``path`` (see the module doc); ``model`` when unreadable, so
    the model reader reports why. A pipe (``<(ssh mac ioreg -lw0)``) is a dump, told
    without reading it: what a look at its start took would be gone for its reader, which
    would read only the rest (and an ``ioreg -a`` archive piped in is refused by name)."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
            return "dump"
        head = read_input_head(path, _FIRST_LOOK)
        kind = kind_of_head(head, complete=len(head) < _FIRST_LOOK)
        if kind is None:
            kind = kind_of_head(read_input_head(path, SNIFF_LIMIT), complete=True)
    except OSError:
        return "model"
    return kind or "model"


def kind_of_head(head: bytes, *, complete: bool = True) -> FileKind | None:
    """The kind the first bytes show; None when they do not decide and more may follow
    (``complete`` False)."""
    if head.startswith(_ZIP_STARTS):
        return "zip"
    head = _as_utf8ish(head)
    if head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(_PLIST_STARTS):
        return "plist"
    lines = head.split(b"\n")
    if not complete:
        lines.pop()  # the last line may be cut: judge it when it is whole
    for line in lines:
        if line.lstrip(_ENTRY_GLYPHS).startswith(_ENTRY_MARK):
            return "dump"
        if line[:1] == b"[" and _TOML_HEADER.fullmatch(line):
            return "model"
    return "model" if complete else None


def _as_utf8ish(head: bytes) -> bytes:
    """UTF-16 (with or without a byte-order mark) as the bytes of its characters."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace").encode("utf-8", errors="replace")
    sample = head[:4096]
    if sample and sample.count(0) * 4 >= len(sample):
        # UTF-16 without its mark: ASCII text interleaved with NULs. Dropping the NULs keeps
        # the structure; the importer decodes the whole file properly.
        return head.replace(b"\0", b"")
    return head
