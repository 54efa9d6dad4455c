"""The common shapes of a dump's lines, told by one regular expression: the fast road of the tree.

No IOKit counterpart: this reads back what ``ioreg`` prints (ioreg.c ``show``/``cfshow``). A dump
is tens of thousands of lines, nearly all of a handful of shapes: a property whose value is a
number, a string, ``Yes``/``No``, hex data or one string of data; a property block's ``{`` or
``}``; a blank glyph line; a modern entry line (``+-o name@loc  <class X, id 0x.., states,
retain N>``). :data:`LINE` matches a whole line against all of them at once, and its
``lastgroup`` names the shape (the value's group for a property line), so the tree reader
(:mod:`.tree`) handles a common line with one match and a few operations instead of a chain of
string tests and a call per token; :func:`shape_value` gives a property's value,
:func:`header_states` an entry's states.

It only takes the common road, as :mod:`.fastvalues` does for values: each shape is written so
that a line it matches reads exactly as the careful per-line code reads it (a key without a
quote, no blank after the value or the header, a number of at most 20 digits (one from 2**64
on is left to the careful reader by :data:`.fastvalues.NUMBERS`) or 16 hex ones,
data of an even number of hex digits, a header with its id right after a class name without a
``:`` chain); any other line -- containers, damage, old headers, ``-i`` chains -- is left
(``other``, ``UNREAD``, or no match) to that code, which says what is wrong and where.
"""

from __future__ import annotations

import re
from typing import Any

from iokit_host.ioreg_import.fastvalues import NUMBERS, Unusual, os_number
from iokit_host.ioreg_import.redaction import looks_redacted
from iokit_host.ioreg_import.text import text_of

__all__ = ["LINE", "UNREAD", "header_states", "remembered_redaction", "shape_value"]

LINE = re.compile(
    r'(?P<lead>[ |]*+)(?:'  # possessive: no shape starts with a glyph
    r'"(?P<key>[^"]*)" = (?:'  # a property; its key cannot hold '" = ', so it splits alike
    # 20 digits: 2**64 - 1 (an all-ones mask, a -1) is printed on every HID element's line
    r'(?P<decimal>[0-9]{1,20})'
    r'|0x(?P<hexadecimal>[0-9a-fA-F]{1,16})'  # ioreg -x
    r'|(?P<yes>Yes)|(?P<no>No)'
    r'|"(?P<string>.*)"'  # a top-level string runs to the last quote of the line
    r'|<"(?P<cstring>[^"]*)">'  # one NUL-terminated string (name, compatible)
    r'|<(?P<data>.*)>'  # hex digits, as shape_value checks: a pattern that told them would
    # cost the regular expression engine a step per digit of a 300 KB blob
    r'|(?P<other>.*))'  # anything else: the careful reader's
    r'|(?P<open>\{)|(?P<close>\})'
    # Modern header: label without '<' ending in a non-blank, so rfind('<class ') and the
    # label's rstrip find the same split; the tail holds no '<', '>' (the careful reader's
    # parts after the id, see header_states).
    r'|\+-o (?P<label>[^<\t]*[^ <\t])  <class (?P<cls>[^,:<>\s]+), id 0x'
    r'(?P<id>[0-9a-fA-F]{1,16})(?P<tail>(?:,[^<>]*)?)>'
    r'|(?P<blank>))\Z')

#: Header tails already read (``, registered, matched, active, busy 0, retain 5``): a dump
#: repeats a few hundred of them, so each is split once. Bounded: cleared when full.
_STATES: dict[str, tuple[str, ...] | None] = {}
_STATES_KEPT = 4096


def header_states(tail: str) -> tuple[str, ...] | None:
    """The states an entry header's parts after its id print (``registered``, ``!matched``,
    ``busy 0 (5 ms)``), as the careful reader (:func:`.entries.parse_node_line`) reads them;
    None when a part is a second id, which only that reader handles."""
    if tail in _STATES:
        return _STATES[tail]
    if len(_STATES) >= _STATES_KEPT:
        _STATES.clear()
    states = _STATES[tail] = _read_states(tail)
    return states


def _read_states(tail: str) -> tuple[str, ...] | None:
    states = []
    for part in tail.split(",")[1:]:  # the tail starts with its ',' (or is empty)
        part = part.strip()
        if part.startswith("id "):
            return None
        if not part.startswith("retain"):
            states.append(part)
    return tuple(states)


#: What :func:`shape_value` gives for a line only the careful reader reads.
UNREAD = object()


def shape_value(shape: str, text: str) -> Any:
    """The value a property of ``shape`` whose group in :data:`LINE` holds ``text`` has, as
    :func:`.values.parse_value` reads it; ``UNREAD`` for a number from 2**64 on, and for data
    that is not an even number of hex digits alone (``fromhex`` refuses anything else but
    skips blanks: the length tells)."""
    if shape == "decimal":
        try:
            return NUMBERS[text]
        except Unusual:  # from 2**64 on
            return UNREAD
    if shape == "hexadecimal":
        return os_number(int(text, 16))
    if shape == "yes" or shape == "no":
        return shape == "yes"
    if shape == "string":
        return text_of(text)  # text (a byte kept for data is read as its line was)
    if shape == "cstring":
        return text.encode("utf-8", "surrogateescape") + b"\x00"  # bytes kept: text.py
    try:
        data = bytes.fromhex(text)
    except ValueError:
        return UNREAD
    return data if len(data) * 2 == len(text) else UNREAD


def remembered_redaction(text: str) -> bool:
    """:func:`.redaction.looks_redacted`, remembered for short texts: most strings of a dump
    are printed many times (class names, bundle ids), and the answer never changes."""
    if len(text) > _REMEMBERED_LENGTH:
        return looks_redacted(text)
    seen = _REDACTED.get(text)
    if seen is None:
        if len(_REDACTED) >= _REMEMBERED:
            _REDACTED.clear()  # a bound on what is kept, not on what is read
        seen = _REDACTED[text] = looks_redacted(text)
    return seen


_REDACTED: dict[str, bool] = {}
_REMEMBERED, _REMEMBERED_LENGTH = 4096, 256
