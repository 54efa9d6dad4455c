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

from iokit_host.ioreg_import.damage import LINE_ENDINGS, NOT_UTF8, NUL, DumpDamage

__all__ = ["decode_dump", "legacy_decode", "split_lines"]

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_dump(raw: bytes, damage: DumpDamage) -> str:
    """The text of a dump file: UTF-8 where it is, Windows-1252 or Latin-1 on the lines where
    it is not (see the module doc)."""
    if raw.startswith(_UTF16_BOMS):
        return raw.decode("utf-16", errors="replace")
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return _redecode_lines(raw, error.start, damage)


def _redecode_lines(raw: bytes, bad: int, damage: DumpDamage) -> str:
    """``raw``, whose first byte that is not UTF-8 is at ``bad``, decoded as UTF-8 with each
    line that is not UTF-8 decoded as a legacy encoding, noting it. The rest is decoded in
    runs of whole lines, so the decoder itself finds each such line (at C speed) and a large
    dump with one costs no more memory than a clean one; a run after one is short and doubles
    after each clean run, so a dump of such lines costs time in proportion to its size."""
    view = memoryview(raw)  # runs are decoded where they lie, not copied first
    parts: list[str] = []
    done, number, size = 0, 1, _RUN_AFTER  # raw[:done] is in parts; raw[done] is on line number
    while True:
        start = raw.rfind(b"\n", done, bad) + 1 or done
        stop = raw.find(b"\n", bad)
        stop = len(raw) if stop < 0 else stop
        number += raw.count(b"\n", done, start)
        damage.note(NOT_UTF8, number, f"byte 0x{raw[bad]:02x} at column {bad - start + 1} "
                    "is not UTF-8")
        parts += (str(view[done:start], "utf-8"), legacy_decode(raw[start:stop]))
        done = stop  # at the end of that line
        while True:  # clean runs, each twice as long, to the next line that is not UTF-8
            if done >= len(raw):
                return "".join(parts)
            end = raw.find(b"\n", done + size)
            end = len(raw) if end < 0 else end + 1
            try:
                parts.append(str(view[done:end], "utf-8"))
            except UnicodeDecodeError as error:
                bad = done + error.start
                size = _RUN_AFTER
                break
            number += raw.count(b"\n", done, end)
            done = end
            size = min(size * 2, _RUN)


#: Most bytes decoded at a time (then on to the end of the line), and the first run after a
#: line that is not UTF-8.
_RUN = 1 << 20
_RUN_AFTER = 1 << 10


def legacy_decode(raw: bytes) -> str:
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
