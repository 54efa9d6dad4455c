"""One ``"key" = value`` line of a dump's property block, read back by the careful reader.

No IOKit counterpart: this reads what ioreg.c ``cfshow`` prints. ioreg prints strings raw, so
a string holding newlines continues on the following lines without glyphs: those are joined
back, at most :data:`MAX_CONTINUATION` of them and never a line that reads as the block's next
property or its end. A value that does not read is reported against its line (a masked one,
``<private>`` and the like, as redacted); a redacted string that reads is kept as printed and
said so. Reports wait in the block's ``pending`` list: the tree reader (:mod:`.tree`) makes
them when the block closes, so a dump cut off inside a block is reported once, as the cut.
"""

from __future__ import annotations

from typing import Any

from iokit_host.errors import quoted
from iokit_host.ioreg_import.damage import BAD_VALUE, REDACTED, DamageKind
from iokit_host.ioreg_import.errors import ValueSyntaxError
from iokit_host.ioreg_import.redaction import looks_masked, looks_redacted
from iokit_host.ioreg_import.text import text_of
from iokit_host.ioreg_import.values import parse_value

__all__ = ["MAX_CONTINUATION", "read_property"]

#: Lines a raw multi-line string may continue over before the line counts as malformed.
MAX_CONTINUATION = 64
_GLYPHS = " |"

Pending = list[tuple[DamageKind, int, str]]


def read_property(lines: list[str], number: int, content: str, lead: int,
                  properties: dict[str, Any], pending: Pending) -> int:
    """Read the property on line ``number`` (1-based; ``content`` is the line after its
    glyphs, which end at column ``lead``) into ``properties``; the index of the next line."""
    split = content.find('" = ', 1)
    if split < 0:
        pending.append((BAD_VALUE, number, "property line without '\"key\" = value'"))
        return number
    # (A key is text: a byte kept for data on its line is read as the line was, text.py.
    # The one-regex line reader takes no key with a quote, so none with such a byte.)
    key, text = text_of(content[1:split]), content[split + 4:]
    following = number
    while True:
        try:
            value = parse_value(text)
        except ValueSyntaxError as error:
            if (error.reason == "unterminated string" and following < len(lines)
                    and following - number < MAX_CONTINUATION
                    and not _next_in_block(lines[following], lead)):
                text += "\n" + lines[following]
                following += 1
                continue
            where = _position(number, lead + split + 4, text, error.column)
            _bad_value(number, key, text, f"{error.reason} at {where}", pending)
            return following
        if looks_redacted(text):
            pending.append((REDACTED, number, f"property {quoted(key)}, kept as printed"))
        properties[key] = value
        return following


def _position(number: int, start: int, text: str, column: int) -> str:
    """Where the character at ``column`` of a value's ``text`` (which starts at the 0-based
    column ``start`` of line ``number``, and may go on over the lines after it) is in the
    file, as an editor counts: the column on its line, and that line when it is a later one."""
    before = text[:column]
    later = before.count("\n")
    if not later:
        return f"column {start + column + 1}"
    line_start = before.rfind("\n") + 1
    return f"line {number + later}, column {column - line_start + 1}"


def _bad_value(number: int, key: str, text: str, error: str, pending: Pending) -> None:
    if looks_masked(text):
        pending.append((REDACTED, number, f"property {quoted(key)}, dropped: {error}"))
    else:
        pending.append((BAD_VALUE, number, f"property {quoted(key)}: {error}"))


def _next_in_block(line: str, lead: int) -> bool:
    """True when ``line`` reads as the next property of a block whose properties sit at
    column ``lead`` (or as that block's closing brace), so it cannot continue a string."""
    content = line.lstrip(_GLYPHS)
    column = len(line) - len(content)
    if content.startswith('"') and '" = ' in content:
        return column == lead
    return content.rstrip() == "}" and column == lead - 2
