"""Undoing a pasted dump's indentation, so ``+-o`` sits where ``ioreg`` put it again.

No IOKit counterpart. ioreg draws the tree with two columns per level (``| `` or two spaces)
and puts the root's ``+-o`` at column 0; the tree reader depends on that column. Dumps pasted
into a mail, a forum or a Markdown code block arrive with every line indented by the same text
(four spaces, a tab, a mail quote ``> ``), or with the glyph columns turned into tabs by an
editor. The indent of the
first entry line is removed from every line that carries it; tabs left in the glyph columns are
read with the tab width (tab stops or plain replacement, 8, 4 or 2 columns) under which the most
lines sit where ioreg puts them. Lines keep their numbers.
"""

from __future__ import annotations

from collections.abc import Callable

from iokit_host.ioreg_import.damage import INDENT, DumpDamage

__all__ = ["normalise_layout"]

_ENTRY = "+-o "
_GLYPHS = " |\t"
_QUOTE = " \t>"  # what a paste puts before every line: an indent, a mail quote ('> ')
_STRUCTURE = (_ENTRY, '"', "{", "}")


def normalise_layout(lines: list[str], damage: DumpDamage, *, tabs: bool = True) -> list[str]:
    """The lines with a uniform indent removed and glyph-column tabs expanded (see the doc).

    :param tabs: False when the caller knows the lines hold no tab (from their text).
    """
    first = next((n for n, line in enumerate(lines)
                  if line.lstrip(_QUOTE + _GLYPHS).startswith(_ENTRY)), None)
    if first is None:
        return lines
    lines = _remove_indent(lines, first, damage)
    return _expand_tabs(lines, first, damage) if tabs else lines


def _content(line: str) -> str:
    return line.lstrip(_GLYPHS)


def _remove_indent(lines: list[str], first: int, damage: DumpDamage) -> list[str]:
    line = lines[first]
    indent = line[:len(line) - len(line.lstrip(_QUOTE))]
    if not indent:
        return lines
    shown = indent.replace("\t", "\\t")
    bare = indent.rstrip()  # a quoted blank line is the quote mark alone
    result = lines[:first]
    for number, line in enumerate(lines[first:], first + 1):
        if line.startswith(indent) or (bare and line.rstrip() == bare):
            damage.note(INDENT, number, f"every line indented by '{shown}'")
            line = line[len(indent):]
        result.append(line)
    return result


def _expand_tabs(lines: list[str], first: int, damage: DumpDamage) -> list[str]:
    if "\t" not in "\n".join(lines[first:]):
        return lines  # the usual dump: one search over the text, not a test per line
    tabbed = [n for n in range(first, len(lines)) if _tabbed(lines[n])]
    if not tabbed:
        return lines
    readings = [_stops(8), _stops(4), _stops(2), _spaces(4), _spaces(2), _spaces(8)]
    best = max(readings, key=lambda reading: _score(lines, first, reading))
    result = list(lines)
    for number in tabbed:
        line = result[number]
        lead = len(line) - len(_content(line))
        result[number] = best(line[:lead]) + line[lead:]
        damage.note(INDENT, number + 1, "tabs in the tree's glyph columns")
    return result


def _tabbed(line: str) -> bool:
    content = _content(line)
    return "\t" in line[:len(line) - len(content)] and (
        not content.strip() or content.startswith(_STRUCTURE))


def _stops(width: int) -> Callable[[str], str]:
    return lambda lead: lead.expandtabs(width)


def _spaces(width: int) -> Callable[[str], str]:
    return lambda lead: lead.replace("\t", " " * width)


def _score(lines: list[str], first: int, reading: Callable[[str], str]) -> int:
    """How many lines sit where ioreg puts them under this reading of tabs: entry lines at a
    depth the tree allows, braces four columns and properties six right of their entry's."""
    score, depth, entry = 0, -1, 0
    for line in lines[first:]:
        content = _content(line)
        if not content.startswith(_STRUCTURE):
            continue
        column = len(reading(line[:len(line) - len(content)]))
        if content.startswith(_ENTRY):
            entry = column
            if column % 2 == 0 and column // 2 <= depth + 1:
                score += 1
                depth = column // 2
        else:
            score += column == entry + (6 if content.startswith('"') else 4)
    return score
