"""A dump's bytes as lines: encodings and line endings (what ``ioreg`` wrote, as it arrives).

No IOKit counterpart. ioreg writes UTF-8 with LF line endings. A dump that passed through other
hands may not: an older Mac wrote user names in MacRoman or Latin-1, a Windows editor saves CRLF
(or UTF-16 with a byte-order mark, or Windows-1252 with its curly quotes), a classic Mac editor
CR. Each line that is not UTF-8 is read as Mac OS Roman when its bytes are the ones ioreg
itself wrote that way (CoreFoundation kept such strings in Mac OS Roman and ioreg printed that
store: byte 0xD5 in ``Alexander?s MacBook`` is the apostrophe), else as Windows-1252, or as
Latin-1 where that has no character for a byte (the two agree on every letter; Latin-1 maps
every byte to a character), so its value is kept rather than replaced; data printed as strings
keeps its bytes (:func:`line_decode`). Line numbers stay those of the file, so warnings point
at the right line. NUL characters, which ioreg never writes, are removed.
"""

from __future__ import annotations

import codecs
import itertools
import re

from iokit_host.ioreg_import.damage import LINE_ENDINGS, NOT_UTF8, NUL, DumpDamage

__all__ = ["decode_dump", "has_escapes", "legacy_decode", "line_decode", "split_lines",
           "text_of"]

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode_dump(raw: bytes, damage: DumpDamage) -> str:
    """The text of a dump file: UTF-8 where it is, Mac OS Roman, Windows-1252 or Latin-1 on
    the lines where it is not (see the module doc)."""
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
        parts += (str(view[done:start], "utf-8"), line_decode(raw[start:stop]))
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


#: Bytes a name ioreg printed in Mac OS Roman holds: its accented small letters (but the
#: four whose bytes are Windows-1252's curly quotes, which an editor puts around keys), and
#: its typographic punctuation (no-break space, dashes, quotes, ellipsis, guillemets).
#: Latin-1 text has its letters from 0xC0 up, where these punctuation bytes are capitals
#: that rarely follow small letters; so a line with only these bytes is read as Mac OS Roman.
_MAC_ROMAN_TEXT = re.compile(rb"[\x80-\x90\x95-\x9f\xc7-\xd5]")
_HIGH = re.compile(rb"[\x80-\xff]")


#: Where data ioreg printed as strings, ``<"a","b">``, starts: where a value starts (after
#: ``= ``, ``=``, ``(`` or ``,``). ioreg printed each of its bytes as it was (``%c``); the
#: data runs to the first ``">`` after its start.
_DATA_STRINGS_START = re.compile(rb'(?:(?<== )|(?<=[=(,]))<"')
#: A property line: its glyphs (or a pasted indent), then its key's quote.
_PROPERTY_LINE = re.compile(rb'[ |\t]*"')
#: A byte kept as a surrogate escape (:func:`line_decode`).
_ESCAPED = re.compile("[\udc80-\udcff]")


def line_decode(raw: bytes) -> str:
    """A dump's line that is not UTF-8: its data printed as strings keeps its bytes (a byte
    that is not UTF-8 as a surrogate escape, which the value readers turn back into that
    byte: a MAC address printed with its byte 0xFC); the rest is Mac OS Roman where its bytes
    are what ioreg wrote that way (see :data:`_MAC_ROMAN_TEXT`), else :func:`legacy_decode`."""
    if _PROPERTY_LINE.match(raw) is None:  # only a property's value holds data
        return _text_decode(raw)
    parts = _split_data_strings(raw)  # text, data, text, ..., text
    return "".join(part.decode("utf-8", "surrogateescape") if odd else _text_decode(part)
                   for odd, part in zip(itertools.cycle((False, True)), parts))


def _split_data_strings(raw: bytes) -> list[bytes]:
    """``raw`` split around its data printed as strings: text, data, text, ..., text. Each
    data's end is searched for once, from its start; past the last ``">`` no data can end,
    so a line of openers without one (``,<"x,<"x...``) is read once, not once per opener."""
    parts: list[bytes] = []
    done = 0  # raw[:done] is in parts
    start = _DATA_STRINGS_START.search(raw)
    while start is not None:
        end = raw.find(b'">', start.end())
        if end < 0:
            break
        parts += (raw[done:start.start()], raw[start.start():end + 2])
        done = end + 2
        start = _DATA_STRINGS_START.search(raw, done)
    parts.append(raw[done:])
    return parts


def has_escapes(text: str) -> bool:
    """True when ``text`` holds a byte :func:`line_decode` kept (which only data may hold)."""
    return not text.isascii() and _ESCAPED.search(text) is not None


def text_of(text: str) -> str:
    """``text`` (a string, not data) with each kept byte read as the rest of its line was:
    a string is text, and a surrogate escape is no character any output can write."""
    if text.isascii():
        return text
    return _ESCAPED.sub(lambda found: _text_decode(bytes([ord(found.group()) - 0xDC00])),
                        text)


def _text_decode(raw: bytes) -> str:
    if len(_HIGH.findall(raw)) == len(_MAC_ROMAN_TEXT.findall(raw)):
        return raw.decode("mac_roman")
    return legacy_decode(raw)


def legacy_decode(raw: bytes) -> str:
    """Bytes that are not UTF-8 and not ioreg's own: Windows-1252 (curly quotes from a Windows
    editor), else Latin-1 (which has a character for each byte Windows-1252 leaves
    undefined)."""
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
    return _split_lone_cr(lines, damage) if "\r" in text.replace("\r\n", "") else lines


#: A lone CR that ends a line of the dump: what follows it is a line of its own (an entry,
#: a brace, a property), not text of a string value, which may hold a CR.
_LONE_CR = re.compile(r"\r(?=[ |]*(?:\+-o |[{}]|\"))")


def _split_lone_cr(lines: list[str], damage: DumpDamage) -> list[str]:
    """``lines`` with each line that holds lone CR line endings (an edit in another editor,
    mixed endings) split there: read whole, the entry after it was merged into the line
    before, silently."""
    out: list[str] = []
    for number, line in enumerate(lines, 1):
        parts = _LONE_CR.split(line) if "\r" in line else [line]
        if len(parts) > 1:
            damage.note(LINE_ENDINGS, number, "lines end in CR only", count=len(parts) - 1)
        out += parts
    return out


def _without_nul(text: str, damage: DumpDamage) -> str:
    """``text`` without NUL characters, which ioreg never writes: UTF-16 text read as bytes
    has one after every ASCII character, and removing them gives the text back."""
    first = text.find("\x00")
    if first < 0:
        return text
    damage.note(NUL, text.count("\n", 0, first) + 1, "a NUL character",
                count=text.count("\x00"))
    return text.replace("\x00", "")
