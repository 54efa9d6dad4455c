"""ioreg's property value syntax, read back into typed values (the inverse of ioreg.c ``cfshow``).

``ioreg`` prints a CF property list as text: ``"str"``, unsigned decimal (or ``0x`` hex with
``-x``) numbers, ``Yes``/``No``, ``<hex>`` data or ``<"a","b">`` for data that holds
NUL-terminated strings, ``(a,b)`` arrays, ``{"k"=v}`` dictionaries and ``[a,b]`` sets. This
module reads one such value into the types of :mod:`iokit_sdk.values`.

Rules where the text is lossy (documented because they are choices, not IOKit facts):

- ioreg does not print a number's width. A value below 2**31 becomes a 32-bit ``OSNumber``,
  anything larger 64-bit: a 32-bit number with its top bit set prints sign-extended, so one
  printed from 2**31 up was wider (:mod:`.widths`). Matching ignores width
  (``OSNumber::isEqualTo``), so this only decides how the value is printed again.
- ``<"a","b">`` becomes ``b"a\\0b\\0"``: each string NUL-terminated, as ``compatible`` and
  ``name`` data are in the device tree. A string equals such data (``values_equal``).
- ioreg prints strings without escaping. A top-level string runs to the end of the line; inside
  a container a string ends at the first ``"`` followed by a delimiter (``, = ) } ] >``).
- ioreg prints nothing for a string CoreFoundation would not give it as a C string (text past
  ASCII that Mac OS Roman cannot hold, e.g. a device name in Cyrillic); such an empty value
  reads as :data:`~.fastvalues.UNPRINTED` (U+FFFD), which prints as nothing again.
- A set whose members are not hashable (dictionaries, arrays), or that holds ``Yes`` and ``1``
  (or ``No`` and ``0``), which Python's sets would merge, reads as an array.
- Numbers printed with a fraction (CF floats) read as strings: there is no float property type.

Well-formed values are read by :mod:`.fastvalues` (one loop, same results); this reader takes
what that one finds unusual, and says where a value is damaged.

The reader is a single left-to-right pass with regular expressions anchored at the current
position, so the 400 KB ``IOKitDiagnostics`` line costs linear time. It recurses once per
nesting level, and nesting is limited to :data:`MAX_DEPTH` levels (real dumps nest a handful),
so hostile input gets a ``values nested deeper than`` error rather than exhausting the Python
stack. A value holding more items than a property value may (:data:`MAX_VALUE_ITEMS`, counted
over all its containers) is refused the same way, so one pasted or repeated array costs that
property, not the whole machine model. Numbers are measured before conversion, so a
5000-digit number is refused as wider than 64 bits rather than reaching ``int``'s digit limit.
"""

from __future__ import annotations

import re
from typing import Any

from iokit_sdk.values import MAX_VALUE_ITEMS, OSNumber

from iokit_host.ioreg_import.errors import ValueSyntaxError
from iokit_host.ioreg_import.fastvalues import (
    MAX_DEPTH,
    UNPRINTED,
    Unusual,
    as_set,
    fast_value,
)
from iokit_host.ioreg_import.text import text_of
from iokit_host.ioreg_import.widths import printed_width

__all__ = ["MAX_DEPTH", "parse_value", "read_carefully"]

_NUMBER = re.compile(r"(0x[0-9a-fA-F]+|[0-9]+)(\.[0-9]+)?")
_HEX = re.compile(r"[0-9a-fA-F]*")
_SPACE = re.compile(r"[ \t]*")
_DELIMITERS = frozenset(",=)}]>")
_CLOSERS = frozenset(",)}]")
_WORDS = {"Yes": True, "No": False}


def parse_value(text: str) -> Any:
    """One whole property value, e.g. the text after ``"key" = `` on a property line.

    :raises ValueSyntaxError: with the 0-based column of the first thing that cannot be read.
    """
    stripped = text.rstrip(" \t")  # pasted dumps gain trailing blanks; ioreg prints none
    if len(stripped) >= 2 and stripped[0] == '"' and stripped[-1] == '"':
        # A top-level string is everything between the outer quotes.
        return text_of(stripped[1:-1])
    try:
        return fast_value(text)  # the common road, in one loop (fastvalues)
    except Unusual:
        pass  # read again here, which says what is wrong and where
    return read_carefully(text)


def read_carefully(text: str) -> Any:
    """``text`` read character by character: what :func:`parse_value` falls back to when the
    one-loop reader (:mod:`.fastvalues`) leaves a value, and what that reader must agree with.

    :raises ValueSyntaxError: with the 0-based column of the first thing that cannot be read.
    """
    reader = _Reader(text)
    value = reader.value(0)
    reader.skip_space()
    if reader.pos != len(text):
        raise ValueSyntaxError("unexpected text after the value", reader.pos)
    return value


class _Reader:
    __slots__ = ("items", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.items = 0  # container items read so far, over the whole value

    def count_item(self) -> None:
        """Count one more container item; past :data:`MAX_VALUE_ITEMS` the value is refused
        (the model would refuse it, and with it the whole machine)."""
        self.items += 1
        if self.items > MAX_VALUE_ITEMS:
            raise ValueSyntaxError(f"value holds more than {MAX_VALUE_ITEMS} items", self.pos)

    def skip_space(self) -> None:
        match = _SPACE.match(self.text, self.pos)
        self.pos = match.end() if match else self.pos

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        self.skip_space()
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end of the line"
            raise ValueSyntaxError(f"expected {char!r}, found {found}", self.pos)
        self.pos += 1

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ValueSyntaxError(f"values nested deeper than {MAX_DEPTH} levels", self.pos)
        self.skip_space()
        char = self.peek()
        if char == "" or char in _CLOSERS:
            return UNPRINTED  # ioreg printed nothing for an unconvertible string
        if char == '"':
            return self.string(_DELIMITERS)
        if char == "(":
            return self.sequence(")", depth)
        if char == "[":
            return as_set(self.sequence("]", depth))
        if char == "{":
            return self.dictionary(depth)
        if char == "<":
            return self.data()
        return self.scalar()

    def string(self, enders: frozenset[str] | None) -> str:
        """A quoted string; ``enders=None`` applies the rule for strings inside data."""
        start = self.pos + 1
        end = start
        text = self.text
        while True:
            end = text.find('"', end)
            if end < 0:
                raise ValueSyntaxError("unterminated string", self.pos)
            if self._closes(end + 1, enders):
                self.pos = end + 1
                # Data keeps the bytes of its strings (text.line_decode); a string is text.
                return text[start:end] if enders is None else text_of(text[start:end])
            end += 1

    def _closes(self, after: int, enders: frozenset[str] | None) -> bool:
        text = self.text
        if enders is not None:
            match = _SPACE.match(text, after)
            after = match.end() if match else after
            return after >= len(text) or text[after] in enders
        # Inside <"..."> a string may hold '>' (serialized XML does): it ends before ',"'
        # or before a '>' that itself ends the data.
        if text.startswith(',"', after):
            return True
        return text.startswith(">", after) and self._ends_token(after + 1)

    def sequence(self, closer: str, depth: int) -> list[Any]:
        self.pos += 1
        items: list[Any] = []
        self.skip_space()
        if self.peek() == closer:
            self.pos += 1
            return items
        while True:
            self.count_item()
            items.append(self.value(depth + 1))
            self.skip_space()
            char = self.peek()
            if char == closer:
                self.pos += 1
                return items
            if char != ",":
                raise ValueSyntaxError(f"expected ',' or {closer!r} in a collection", self.pos)
            self.pos += 1

    def dictionary(self, depth: int) -> dict[str, Any]:
        self.pos += 1
        result: dict[str, Any] = {}
        self.skip_space()
        if self.peek() == "}":
            self.pos += 1
            return result
        while True:
            self.count_item()
            self.skip_space()
            key = self.value(depth + 1)
            if not isinstance(key, str):
                key = str(key)  # CF allows non-string keys; the registry does not
            self.expect("=")
            result[key] = self.value(depth + 1)
            self.skip_space()
            char = self.peek()
            if char == "}":
                self.pos += 1
                return result
            if char != ",":
                raise ValueSyntaxError("expected ',' or '}' in a dictionary", self.pos)
            self.pos += 1

    def data(self) -> bytes:
        self.pos += 1
        self.skip_space()
        if self.peek() == '"':
            return self.string_list()
        match = _HEX.match(self.text, self.pos)
        digits = match.group() if match else ""
        self.pos += len(digits)
        self.expect(">")
        if len(digits) % 2:
            raise ValueSyntaxError("data has an odd number of hex digits", self.pos - 1)
        return bytes.fromhex(digits)

    def string_list(self) -> bytes:
        parts: list[bytes] = []
        while True:
            # (a byte the dump held that is not UTF-8 came as a surrogate escape: text.py)
            parts.append(self.string(None).encode("utf-8", "surrogateescape") + b"\x00")
            self.skip_space()
            char = self.peek()
            self.pos += 1
            if char == ">":
                return b"".join(parts)
            if char != ",":
                raise ValueSyntaxError("expected ',' or '>' in string data", self.pos - 1)
            self.skip_space()
            if self.peek() != '"':
                raise ValueSyntaxError("expected a string in string data", self.pos)

    def scalar(self) -> Any:
        start = self.pos
        for word, flag in _WORDS.items():
            end = start + len(word)
            if self.text.startswith(word, start) and self._ends_token(end):
                self.pos = end
                return flag
        match = _NUMBER.match(self.text, start)
        if match and self._ends_token(match.end()):
            self.pos = match.end()
            if match.group(2):
                return match.group()
            digits = match.group(1)
            hexadecimal = digits.startswith("0x")
            # Measure before converting: int() refuses decimal text over 4300 digits with a
            # ValueError, and a 64-bit number has at most 20 decimal or 16 hex digits anyway.
            significant = digits[2:].lstrip("0") if hexadecimal else digits.lstrip("0")
            if len(significant) > (16 if hexadecimal else 20):
                raise ValueSyntaxError(f"number of {len(significant)} digits is wider than "
                                       "64 bits", start)
            number = int(significant or "0", 16 if hexadecimal else 10)
            if number >= 1 << 64:
                raise ValueSyntaxError("number wider than 64 bits", start)
            return OSNumber(number, printed_width(number))
        raise ValueSyntaxError(f"unexpected {self.text[start]!r}", start)

    def _ends_token(self, end: int) -> bool:
        match = _SPACE.match(self.text, end)
        after = match.end() if match else end
        return after >= len(self.text) or self.text[after] in _DELIMITERS

