"""Lines a mail client, a terminal or ``fold`` broke at a fixed width, joined back.

No IOKit counterpart. ``ioreg -lw0`` writes each entry and each property on one line, however
long. A dump pasted into a mail (wrapped at 72 or 78 columns), copied from a terminal that
wraps, or passed through ``fold -w 80`` arrives with those lines broken: the tail of a line
continues at column 0 on the next line, where no dump line starts (every line of a dump but the
root's is indented under it), or on a line that does not start like a dump line. Then most
values and many headers cannot be read.

A line continues the one before when it cannot start a dump line and its first word would not
have fitted on the line before within the width of the longest line: a client breaks a line
mid-word only when it is full, and moves a word to the next line only when it does not fit. A
dump is taken as wrapped when no line is longer than a mail line may be (998 characters) and
at least :data:`MIN_FRAGMENTS` lines continue the one before; each is then joined to it, and its
own line left empty, so line numbers stay those of the file. A real multi-line string (ioreg
prints embedded newlines raw) fits after its line, so it is left to the tree reader, which
joins it with its newline.
"""

from __future__ import annotations

import re

from iokit_host.ioreg_import.damage import WRAPPED, DumpDamage

__all__ = ["MIN_FRAGMENTS", "unwrap_lines"]

#: Longest line a mail may carry (RFC 5322); a dump with a longer line was not wrapped.
MAX_WRAPPED_WIDTH = 998
#: Continuations needed before a dump is taken as wrapped, so one odd line does not decide.
MIN_FRAGMENTS = 3
_GLYPHS = " |\t"
_STRUCTURE = ("+-o ", '"', "{", "}")
_BLANK_AFTER = ("<class", '" =')
#: How much of the text before a fragment :func:`_separator` looks at.
_LOOK_BACK = max(map(len, _BLANK_AFTER))
#: Lines looked at first for one longer than a mail's: with ``-l``, the registry root's
#: property block (the tenth line or so) holds one, and measuring every line of a large dump
#: costs more than its other tests here.
_HEAD = 32
#: What certainly starts a dump line (see _continues): one test for most lines of a dump.
_STARTS_A_LINE = re.compile(r'[ |\t]+(?:\+-o |["{}])|\+-o ')


def unwrap_lines(lines: list[str], damage: DumpDamage) -> list[str]:
    """The lines with continuations joined back (see the module doc)."""
    if any(map(MAX_WRAPPED_WIDTH.__lt__, map(len, lines[:_HEAD]))):
        return lines  # (told at once in a dump with properties: Root's IOKitDiagnostics)
    width = max(map(len, lines), default=0)
    if width > MAX_WRAPPED_WIDTH:
        return lines
    first = next((n for n, line in enumerate(lines) if line.startswith("+-o ")), len(lines))
    starts = _STARTS_A_LINE.match
    fragments = [n for n in range(first + 1, len(lines)) if not starts(lines[n])
                 and _continues(lines[n]) and _did_not_fit(lines[n - 1], lines[n], width)]
    if len(fragments) < MIN_FRAGMENTS:
        return lines
    damage.note(WRAPPED, fragments[0] + 1, f"lines broken at about {width} columns",
                count=len(fragments))
    return _join_fragments(lines, fragments, width)


def _join_fragments(lines: list[str], fragments: list[int], width: int) -> list[str]:
    """``lines`` with each fragment (in order) joined to the last line before it that is not
    empty (a fragment joined already is), and left empty itself. Each line's pieces are
    joined once at the end: a line broken into thousands (a 400 KB ``IOKitDiagnostics``) is
    not copied once per piece."""
    result = list(lines)
    pieces: dict[int, list[str]] = {}  # a line fragments join -> its text, piece by piece
    ends: dict[int, str] = {}  # ... and the end of that text, as far as _separator looks
    head = 0  # the last line so far that is not empty (or the first line)
    fragment_set = set(fragments)
    for number in range(fragments[-1] + 1):
        if number not in fragment_set:
            if result[number]:
                head = number
            continue
        tail = result[number]
        full = len(lines[number - 1]) >= width  # broken mid-word, not at a blank
        piece = _separator(ends.get(head, result[head]), tail, full=full) + tail
        pieces.setdefault(head, [result[head]]).append(piece)
        ends[head] = (ends.get(head, result[head]) + piece)[-_LOOK_BACK:]
        result[number] = ""
    for number, joined in pieces.items():
        result[number] = "".join(joined)
    return result


def _did_not_fit(head: str, tail: str, width: int) -> bool:
    """True when ``tail``'s first word would not have fitted on ``head``'s line: the reason a
    client moves it to a line of its own (a line broken mid-word is full: it does not fit)."""
    word = tail.split(maxsplit=1)[0]
    # The blank kept at the end of the line, or the one dropped: ioreg puts two before <class.
    blank = 0 if head[-1:].isspace() else 2 if word == "<class" else 1
    return len(head) + blank + len(word) > width


def _continues(line: str) -> bool:
    """True when ``line`` cannot start a dump line, so it continues the one before."""
    content = line.lstrip(_GLYPHS)
    if not content.strip():
        return False  # blank, or glyphs only: ioreg prints those between entries
    if content is line:  # at column 0, where only the root's entry line starts
        return not line.startswith("+-o ")
    return not content.startswith(_STRUCTURE)


def _separator(head: str, tail: str, *, full: bool) -> str:
    """What goes between ``head`` (the text before, or its last piece) and ``tail``, which
    continues it. A line broken before it was ``full`` was broken at a blank, which a client
    may have dropped: one is put back where neither side has it; so it is after ``<class``
    and `` =``, which ioreg always follows with a blank."""
    if head[-1:].isspace() or tail[:1].isspace():
        return ""
    if full and not head.endswith(_BLANK_AFTER):
        return ""
    return " "
