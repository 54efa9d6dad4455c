"""A dump's bytes as lines: encodings and line endings (what ``ioreg`` wrote, as it arrives).

No IOKit counterpart. ioreg writes UTF-8 with LF line endings. A dump that passed through other
hands may not: an older Mac wrote user names in MacRoman or Latin-1, a Windows editor saves CRLF
(or UTF-16 with a byte-order mark, or Windows-1252 with its curly quotes), a classic Mac editor
CR. Each line that is not UTF-8 is read as Windows-1252, or as Latin-1 where that has no
character for a byte (the two agree on every letter; Latin-1 maps every byte to a character), so
its value is kept rather than replaced; line numbers stay those of the file, so warnings point
at the right line. NUL characters, which ioreg never writes, are removed.
"""

from __future__ import annotations

import codecs
import re

from iokit_host.ioreg_import.damage import LINE_ENDINGS, NOT_UTF8, NUL, DumpDamage

__all__ = ["decode_dump", "split_lines"]

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_dump(raw: bytes, damage: DumpDamage) -> str:
    """The text of a dump file: UTF-8 where it is, Windows-1252 or Latin-1 on the lines where
    it is not (see the module doc)."""
    if raw.startswith(_UTF16_BOMS):
        return raw.decode("utf-16", errors="replace")
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Only the lines that are not UTF-8 are decoded again, so a large dump with one such line
    # costs no more memory than a clean one.
    text = raw.decode("utf-8", errors="surrogateescape")
    del raw
    return _redecode_escaped_lines(text, damage)


#: A byte that is not UTF-8, as ``surrogateescape`` decoding left it.
_ESCAPED = re.compile("[\udc80-\udcff]")


def _redecode_escaped_lines(text: str, damage: DumpDamage) -> str:
    """``text`` with each line holding escaped bytes decoded again, noting it."""
    parts: list[str] = []
    done = counted = 0  # text[:done] is in parts; lines before ``counted`` are counted
    number = 1
    for found in _ESCAPED.finditer(text):
        if found.start() < done:
            continue  # on a line already decoded again
        start = text.rfind("\n", 0, found.start()) + 1
        stop = text.find("\n", found.start())
        stop = len(text) if stop < 0 else stop
        number += text.count("\n", counted, start)
        counted = start
        raw = text[start:stop].encode("utf-8", errors="surrogateescape")
        column = len(text[start:found.start()].encode("utf-8", errors="surrogateescape"))
        damage.note(NOT_UTF8, number, f"byte 0x{raw[column]:02x} at column {column + 1} is "
                    "not UTF-8")
        parts += (text[done:start], _legacy_decode(raw))
        done = stop
    parts.append(text[done:])
    return "".join(parts)


def _legacy_decode(raw: bytes) -> str:
    """A line that is not UTF-8: Windows-1252 (curly quotes from a Windows editor), else
    Latin-1 (which has a character for each byte Windows-1252 leaves undefined)."""
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def split_lines(text: str, damage: DumpDamage) -> list[str]:
    """The text's lines, CRLF and lone CR line endings read as LF (one line per file line),
    without NUL characters."""
    text = _without_nul(text.removeprefix("\ufeff"), damage)
    if "\r" not in text:
        return text.split("\n")
    if "\n" not in text:
        lines = text.split("\r")
        damage.note(LINE_ENDINGS, 1, "lines end in CR only", count=len(lines))
        return lines
    lines = text.split("\n")
    ended = [n for n, line in enumerate(lines) if line.endswith("\r")]
    if ended:
        damage.note(LINE_ENDINGS, ended[0] + 1, "lines end in CRLF", count=len(ended))
        lines = [line.removesuffix("\r") for line in lines]
    return lines


def _without_nul(text: str, damage: DumpDamage) -> str:
    """``text`` without NUL characters, which ioreg never writes: UTF-16 text read as bytes
    has one after every ASCII character, and removing them gives the text back."""
    first = text.find("\x00")
    if first < 0:
        return text
    damage.note(NUL, text.count("\n", 0, first) + 1, "a NUL character",
                count=text.count("\x00"))
    return text.replace("\x00", "")
