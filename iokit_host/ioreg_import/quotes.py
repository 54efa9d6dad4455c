"""Typographic quotes put back straight: a dump that went through a word processor or a mail.

No IOKit counterpart. ioreg quotes every property name and string with the ASCII ``"``. Text
pasted through a word processor, a rich-text mail or a chat comes back with "smart" quotes
(``“IOClass” = “AppleHDA”``; from Windows-1252 bytes 0x93/0x94 too, see
:mod:`iokit_host.ioreg_import.text`), and then no property on the line can be read. A line
shows that damage when its property name opens with a typographic double quote, or one closes
just before `` = ``: every typographic double quote on such a line is read as ``"``. Other lines
are left alone, so a string that really holds a curly quote keeps it.
"""

from __future__ import annotations

import re

from iokit_host.ioreg_import.damage import QUOTES, DumpDamage

__all__ = ["may_have_curly_quotes", "straighten_quotes"]

_CURLY = "\u201c\u201d\u201e\u201f\u2033"  # “ ” „ ‟ ″
_CURLY_TABLE = str.maketrans(dict.fromkeys(_CURLY, '"'))
_ANY_CURLY = re.compile(f"[{_CURLY}]")
#: A property line whose name's quotes were curled: at its start, or closing before '='.
_CURLED_NAME = re.compile(f"^[ \t|>]*[{_CURLY}]|[{_CURLY}] ?= ")


def may_have_curly_quotes(text: str) -> bool:
    """False when no line of ``text`` needs :func:`straighten_quotes` (it holds no
    typographic double quote): one search over the text, before it is split."""
    return any(quote in text for quote in _CURLY)


def straighten_quotes(lines: list[str], damage: DumpDamage) -> list[str]:
    """The lines, each one whose quotes an editor curled read with straight quotes."""
    result = lines
    for number in _lines_with_curly_quotes(lines):
        line = lines[number]
        if _CURLED_NAME.search(line) is None:
            continue
        if result is lines:
            result = list(lines)
        result[number] = line.translate(_CURLY_TABLE)
        damage.note(QUOTES, number + 1, f"{line.strip()[:40]!r}")
    return result


def _lines_with_curly_quotes(lines: list[str]) -> list[int]:
    """The indexes, in order, of the lines holding a typographic double quote: one search
    over the whole text (a dump has tens of thousands of lines and almost none of these)."""
    text = "\n".join(lines)
    found: list[int] = []
    if not any(quote in text for quote in _CURLY):  # a substring test runs at memory speed,
        return found  # a character-class search does not
    number = last = 0
    for match in _ANY_CURLY.finditer(text):
        number += text.count("\n", last, match.start())
        last = match.start()
        if not found or found[-1] != number:
            found.append(number)
    return found
