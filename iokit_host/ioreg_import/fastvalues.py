"""ioreg's property values read in one loop: the fast path of :mod:`.values` for well-formed text.

A real dump is mostly property values (one ``IOKitDiagnostics`` line is 400 KB of nested
dictionaries), and :mod:`.values` reads them a character class at a time through a method
per token. This reads the same grammar with one regular expression per token and an explicit
stack of open containers (no recursion), giving exactly the values :mod:`.values` gives.
Plain containers (strings free of syntax characters, numbers in decimal or hex, ``Yes``/``No``,
no blanks: most of a dump's text) are first turned into JSON and read by the ``json`` module's
C parser; a lone decimal number or word is looked up directly.

It only takes the common road: anything unusual -- text it cannot read, a number wider than
64 bits, a key that is not a string, nesting past :data:`~.values.MAX_DEPTH`, more items than
a value may hold -- raises :class:`Unusual`, and :func:`.values.parse_value` reads that value
again the careful way, which gives the diagnostic with its column. So a damaged value is
reported exactly as before, and every value read here is one the careful reader would give.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from iokit_sdk.values import MAX_VALUE_ITEMS, OSNumber, merges_in_a_set

from iokit_host.ioreg_import.text import has_escapes
from iokit_host.ioreg_import.widths import printed_width

__all__ = ["MAX_DEPTH", "NOT_PLAIN", "NUMBERS", "UNPRINTED", "Unusual", "as_set", "fast_value",
           "os_number", "plain_container"]

#: What a value ioreg printed as nothing reads as: a string CoreFoundation could not give it
#: as a C string (``ioreg.format.format_string``), whose text is lost. U+FFFD is Unicode's
#: character for one that could not be read, and ioreg's rule prints it as nothing again.
UNPRINTED = "\ufffd"


class Unusual(Exception):
    """The value needs the careful reader (:mod:`.values`)."""


#: What may follow a token: blanks, then a delimiter or the end (``_Reader._ends_token``).
_ENDS = r"(?=[ \t]*(?:[,=)}\]>]|\Z))"
_SPACE = re.compile(r"[ \t]*")
_STRING = re.compile(r'"(.*?)"' + _ENDS, re.DOTALL)
_DATA_STRING = re.compile(r'"(.*?)"(?=,"|>[ \t]*(?:[,=)}\]>]|\Z))', re.DOTALL)
_HEX_DATA = re.compile(r"<[ \t]*([0-9a-fA-F]*)[ \t]*>")
_STRINGS_DATA = re.compile(r'<[ \t]*(?=")')
_WORD = re.compile(r"(Yes|No)" + _ENDS)
_NUMBER = re.compile(r"(?:0x([0-9a-fA-F]+)|([0-9]+))(\.[0-9]+)?" + _ENDS)
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_EMPTY = frozenset(",)}]")
_NEED_KEY = object()

#: How deep values may nest (:mod:`.values` documents and enforces it).
MAX_DEPTH = 64


def fast_value(text: str) -> Any:
    """The value ``text`` holds (with nothing but blanks after it).

    :raises Unusual: the careful reader must decide.
    """
    if text.isdigit() and text.isascii():  # a decimal number alone: most scalars
        return NUMBERS[text]
    if len(text) < 4 and text in _WORDS:  # (a long text is not hashed for nothing)
        return _WORDS[text]
    if has_escapes(text):
        raise Unusual  # bytes kept for data (text.line_decode): the careful reader sorts them
    if text[:1] in _JSON_OPENERS:
        value = _plain_container(text)
        if value is not _NOT_PLAIN:
            return value
    try:
        return _read(text)
    except Unusual:
        raise
    except Exception as error:  # whatever it is, the careful reader says it
        raise Unusual from error


def plain_container(text: str) -> Any:
    """What :func:`fast_value` gives for ``text`` when it is a plain container (see below), by
    the same road; :data:`NOT_PLAIN` for any other text, which :func:`fast_value` decides.
    (The tree reader's road for a container's line: most are plain, and the calls and tests
    between a line and this one cost as much as reading a small one.)"""
    if text[:1] in _JSON_OPENERS and not has_escapes(text):
        return _plain_container(text)
    return NOT_PLAIN


def _read(text: str) -> Any:
    end = len(text)
    # Open containers: [opener, items (list or dict), key awaiting its value].
    stack: list[list[Any]] = []
    items = 0
    pos = 0
    while True:
        if len(stack) > MAX_DEPTH:
            raise Unusual
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        char = text[pos] if pos < end else ""
        value: Any
        if char == "" or char in _EMPTY:
            value = UNPRINTED  # ioreg printed nothing for a string it could not convert
        elif char in _CLOSERS:
            after = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
            if after < end and text[after] == _CLOSERS[char]:
                pos = after + 1
                value = {} if char == "{" else frozenset() if char == "[" else []
            else:
                items += 1
                if items > MAX_VALUE_ITEMS:
                    raise Unusual
                stack.append([char, {} if char == "{" else [], _NEED_KEY])
                pos += 1
                continue
        else:
            value, pos = _scalar(text, pos, char)
        # Hand the value to the container it belongs to, closing the ones it completes.
        while True:
            if not stack:
                if _SPACE.match(text, pos).end() != end:  # type: ignore[union-attr]
                    raise Unusual
                return value
            frame = stack[-1]
            opener, container = frame[0], frame[1]
            if opener == "{":
                if frame[2] is _NEED_KEY:
                    if type(value) is not str:
                        raise Unusual  # the careful reader turns it into a string
                    frame[2] = value
                    pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
                    if pos >= end or text[pos] != "=":
                        raise Unusual
                    pos += 1
                    break  # now its value
                container[frame[2]] = value
                frame[2] = _NEED_KEY
            else:
                container.append(value)
            pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
            char = text[pos] if pos < end else ""
            if char == _CLOSERS[opener]:
                pos += 1
                stack.pop()
                value = as_set(container) if opener == "[" else container
                continue
            if char != ",":
                raise Unusual
            pos += 1
            items += 1
            if items > MAX_VALUE_ITEMS:
                raise Unusual
            break  # the next item


# -- plain containers, read by the json module ----------------------------------------------
# Most of a dump's text is containers of strings, numbers and booleans printed with no blank
# between tokens (HID element trees, IOKitDiagnostics, IOReportLegend; ``ioreg -x`` prints
# the numbers in hex). Where the syntax between the strings (a quote, no quote, backslash or
# control character, a quote) is only brackets, ``=``, ``,``, numbers and ``Yes``/``No``, a
# few substitutions there make the whole text JSON (a hex number becomes its decimal digits),
# which the C parser reads; the strings pass unchanged. Anything JSON refuses (an empty item,
# a leading zero, a key that is not a string, a quote that does not end a string where JSON
# expects one to) is read the way above instead. A string JSON takes ends where the reader
# above ends it: after a string JSON accepts only what that reader takes for the end of one
# (``,`` ``:`` ``]`` ``}``, from ``,`` ``=`` ``)`` ``}``; or the end of the text).
#
# Most containers' strings hold no syntax character at all: then every character outside
# them is syntax, and the substitutions are made on the whole text at once (_PLAIN). Only a
# text whose strings do hold one (a sentence, a ``47=0%``, a ``pci14e4,4464``) is split at its
# strings first (_BETWEEN): that makes an object per string, which is still far less than
# reading it token by token.
_JSON_OPENERS = frozenset("{(")
#: A text of such tokens, with no blank between them, whose strings hold no syntax character
#: (so a hex number is the ``0`` of a run of syntax and an ``x`` token after it; one that is
#: not a token of its own, ``10x5``, is left in the text, which JSON refuses).
#: (Possessive: a text that does not match fails in linear time.)
_PLAIN = re.compile(r'[{}(),=0-9]*+(?:(?:"[^"\\\x00-\x1f=(){}\[\]<>,]*+"|Yes|No|x[0-9a-fA-F]++)'
                    r'[{}(),=0-9]*+)*+')
#: A string as JSON reads it unchanged: no quote, backslash or control character inside.
_QUOTED = re.compile(r'("[^"\\\x00-\x1f]*+")')
#: Stands for each string in the text between them (a text that holds one is not taken).
_MARK = "\x01"
#: :data:`_PLAIN` for the text between the strings, each string a :data:`_MARK`.
_BETWEEN = re.compile(r'[{}(),=0-9]*+(?:(?:\x01|Yes|No|x[0-9a-fA-F]++)[{}(),=0-9]*+)*+')
#: A hex number where a value starts (after ``=``, ``(``, ``,``, none of which is in a plain
#: string), so never inside a string. (The literal first, the look back after it: a pattern
#: that starts with a literal is searched for at memory speed.)
_HEX_NUMBER = re.compile(r"0x(?<=[=(,]0x)([0-9a-fA-F]+)")
_TO_JSON = bytes.maketrans(b"=()", b":[]")
#: A bare Yes or No: what follows it (``,]}``) is in no plain string, so a word followed by
#: one is outside the strings (and where JSON takes no literal there, it refuses the text).
#: (A pattern that starts with a literal is searched for at memory speed.)
_YES = re.compile(r"Yes(?=[,\]}])")
_NO = re.compile(r"No(?=[,\]}])")
#: Every byte but the brackets of containers, deleted to measure the nesting.
_NOT_BRACKETS = bytes(set(range(256)) - set(b"(){}"))
#: Innermost brackets, removed once per level to measure the nesting.
_INNERMOST = re.compile(rb"\(\)|\{\}")
_NOT_PLAIN = object()
#: What :func:`plain_container` gives for a text that is not a plain container.
NOT_PLAIN = _NOT_PLAIN
_WORDS = {"Yes": True, "No": False}


class _Numbers(dict[str, OSNumber]):
    """Decimal text to its OSNumber, made on first sight (the hook ``json`` calls per number)."""

    def __missing__(self, digits: str) -> OSNumber:
        if len(digits) > 20:
            raise Unusual
        number = int(digits)
        if number >= 1 << 64:
            raise Unusual
        if len(self) > _SMALL_BELOW:
            self.clear()  # a bound on what is kept, not on what is read
        made = self[digits] = OSNumber(number, printed_width(number))
        return made


#: Decimal text (at most 20 digits, below 2**64, else :class:`Unusual`) to its OSNumber.
NUMBERS = _Numbers()


def _plain_container(text: str) -> Any:
    """The value of a plain container (see above), or ``_NOT_PLAIN`` for any other text."""
    pieces: list[str] | None = None  # the text split at its strings, when it had to be
    syntax = text  # the text between the strings, where the substitutions are made
    if _PLAIN.fullmatch(text) is None:
        if "<" in text or _MARK in text:  # data, which JSON has no form for (memory speed)
            return _NOT_PLAIN
        pieces = _QUOTED.split(text)  # between, string, between, ..., between
        syntax = _MARK.join(pieces[::2])
        if _BETWEEN.fullmatch(syntax) is None:
            return _NOT_PLAIN
    openers = syntax.count("{") + syntax.count("(")
    if openers + syntax.count(",") > MAX_VALUE_ITEMS or (
            openers > MAX_DEPTH and not _nests_within(syntax, MAX_DEPTH)):
        return _NOT_PLAIN  # the limits are told, with their column, by the readers above
    try:
        json_text = _as_json(syntax)
        if pieces is not None:
            pieces[::2] = json_text.split(_MARK)
            json_text = "".join(pieces)
        value, end = _SCAN(json_text, 0)
    except (ValueError, RecursionError, Unusual, StopIteration):
        return _NOT_PLAIN
    # As ``json.loads`` decides: the whole text one value (a plain text has no blanks).
    return value if end == len(json_text) else _NOT_PLAIN


def _as_json(text: str) -> str:
    """The syntax of a plain container (the whole text, or the text between its strings) as
    JSON (see above); :class:`Unusual` for a hex number past 64 bits."""
    # A test for one character runs at memory speed (a longer one does not): it spares the
    # substitution's search where the character is missing.
    if "x" in text:
        text = _decimal(text)
    text = text.encode("utf-8", "surrogatepass").translate(_TO_JSON).decode(
        "utf-8", "surrogatepass")  # bytes translate at memory speed, text does not
    if "Y" in text:
        text = _YES.sub("true", text)
    if "N" in text:
        text = _NO.sub("false", text)
    return text


def _decimal(text: str) -> str:
    """``text`` with its hex numbers in decimal; :class:`Unusual` for one past 64 bits (the
    careful reader says so). (Split, not substituted: no call per number.)"""
    pieces = _HEX_NUMBER.split(text)  # text, digits, text, digits, ..., text
    if len(pieces) == 1:
        return text
    numbers = [int(digits, 16) for digits in pieces[1::2]]
    if max(numbers) >> 64:  # more than 16 significant digits
        raise Unusual
    pieces[1::2] = map(str, numbers)
    return "".join(pieces)


#: The json module's scanner (its C one), made once: ``json.loads`` with a hook makes a new
#: decoder per call, and wraps each scan in calls a plain text does not need.
#: (The type stubs leave out the decoder's ``scan_once`` attribute.)
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder(
    parse_int=NUMBERS.__getitem__).scan_once  # type: ignore[attr-defined]


def _nests_within(text: str, levels: int) -> bool:
    """True when the containers of ``text`` (a plain container's syntax: no bracket in its
    strings, or none of its strings) nest at most ``levels`` deep."""
    brackets = text.encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS)
    for _ in range(levels):
        if not brackets:
            return True
        brackets = _INNERMOST.sub(b"", brackets)
    return not brackets


def _scalar(text: str, pos: int, char: str) -> tuple[Any, int]:
    if char == '"':
        match = _STRING.match(text, pos)
        if match is None:
            raise Unusual
        return match.group(1), match.end()
    if char == "<":
        match = _HEX_DATA.match(text, pos)
        if match is not None:
            digits = match.group(1)
            if len(digits) % 2:
                raise Unusual
            return bytes.fromhex(digits), match.end()
        match = _STRINGS_DATA.match(text, pos)
        if match is None:
            raise Unusual
        return _string_data(text, match.end())
    match = _WORD.match(text, pos)
    if match is not None:
        return match.group(1) == "Yes", match.end()
    match = _NUMBER.match(text, pos)
    if match is None:
        raise Unusual
    if match.group(3):
        return match.group(), match.end()  # a CF float: read as its text
    hexadecimal = match.group(1)
    digits = (hexadecimal if hexadecimal is not None else match.group(2)).lstrip("0")
    if len(digits) > (16 if hexadecimal is not None else 20):
        raise Unusual
    number = int(digits or "0", 16 if hexadecimal is not None else 10)
    if number >= 1 << 64:
        raise Unusual
    return os_number(number), match.end()


#: Small numbers already made: a dump repeats the same few thousand (ids, flags, sizes),
#: and an OSNumber is immutable, so one object serves every place that prints it.
_SMALL: dict[int, OSNumber] = {}
_SMALL_BELOW = 1 << 16


def os_number(number: int) -> OSNumber:
    found = _SMALL.get(number)
    if found is not None:
        return found
    made = OSNumber(number, printed_width(number))
    if number < _SMALL_BELOW:
        _SMALL[number] = made
    return made


def _string_data(text: str, pos: int) -> tuple[bytes, int]:
    """``<"a","b">`` from its first quote: each string NUL-terminated."""
    parts: list[bytes] = []
    while True:
        match = _DATA_STRING.match(text, pos)
        if match is None:
            raise Unusual
        # (a byte the dump held that is not UTF-8 came as a surrogate escape: text.py)
        parts.append(match.group(1).encode("utf-8", "surrogateescape") + b"\x00")
        pos = match.end()
        if text[pos] == ">":
            return b"".join(parts), pos + 1
        pos += 1  # the ',' of ',"'


def as_set(items: list[Any]) -> frozenset[Any] | list[Any]:
    """A set's members as a frozenset; as the array they were printed as when a frozenset
    cannot hold them: a member is not hashable (a dictionary, an array), or Python's equality
    would merge two that IOKit keeps apart (``Yes`` and ``1``, ``No`` and ``0``: an OSBoolean
    is never equal to an OSNumber)."""
    try:
        members = frozenset(items)
    except TypeError:
        return items
    if len(members) < len(items) and merges_in_a_set(items):
        return items
    return members
