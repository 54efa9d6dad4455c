"""Property-list values built as the XML parser reports each element (what
``CFPropertyListCreateWithData``'s XML reader does as it scans, keeping no document tree).

``ioreg -a`` of a large machine is tens of megabytes; an ElementTree of it took seven times
its size (a 50 MB document, 350 MB of elements) before one value was made. Here the C expat
parser calls :class:`ValueBuilder` at each tag and each run of text, and the builder keeps
only a frame per *open* element (an explicit stack: any depth, no recursion) and the values
made so far, so memory is the values plus the parser's buffer.

The values are those a walk of the whole tree made (``plistlib``'s, each unreadable scalar an
:class:`UnreadableValue`): a scalar's text is what ElementTree calls its ``text`` (before its
first child, whose subtree is not read), a dictionary keeps its keys in document order with
the last duplicate's value, and of the faults that refuse the document the one a walk in
document order meets first is reported (:meth:`ValueBuilder.result`), once the XML itself has
proved well formed, as a tree's walk only began then.
"""

from __future__ import annotations

import binascii
import datetime
import re
import xml.etree.ElementTree as ET
from typing import Any

__all__ = ["NOT_A_PLIST", "Restore", "UnreadableValue", "ValueBuilder", "base64_data",
           "break_place", "clip_text", "read_values", "without_unreadable"]

#: plistlib's date grammar: ``2020-01-02T03:04:05Z``, each field after the year optional.
_DATE = re.compile(r"(?P<year>\d\d\d\d)(?:-(?P<month>\d\d)(?:-(?P<day>\d\d)"
                   r"(?:T(?P<hour>\d\d)(?::(?P<minute>\d\d)(?::(?P<second>\d\d))?)?)?)?)?Z$")
NOT_A_PLIST = "the XML is not a property list (<plist> holding one value)"
#: The table giving strings back their control characters (None: nothing stood in).
Restore = dict[int, int] | None



class UnreadableValue:
    """Where a document's value did not parse as its element says (``<integer>12x</integer>``,
    a ``<date>`` that is no date, a binary object that cannot be read); ``reason`` says so.
    Kept in its place, so the reader drops that value alone and names it."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"UnreadableValue({self.reason!r})"

    def __str__(self) -> str:
        return "(unreadable)"  # as a key in a key path; the diagnostic gives the reason


def without_unreadable(value: Any) -> Any:
    """``value`` with every :class:`UnreadableValue` left out, and every dictionary key that
    is not a string (a damaged binary plist can make either; no OSDictionary key is other than
    a string), each container holding one copied and the rest shared; ``value`` itself when
    it holds none. For what is kept after the readers have named each one (a kernel
    collection stores a manifest as read). One pass over the containers, children before
    their parents, iterative; a value reached twice (a binary plist shares objects) is copied
    once."""
    if not _holds_unreadable(value):
        return value
    copies: dict[int, Any] = {}
    for item in _containers_children_first(value):
        if isinstance(item, dict):
            pairs = item.items()
            if all(type(key) is str and id(child) not in copies
                   and not isinstance(child, UnreadableValue) for key, child in pairs):
                continue
            copies[id(item)] = {key: copies.get(id(child), child) for key, child in pairs
                                if type(key) is str and not isinstance(child, UnreadableValue)}
        elif any(id(child) in copies or isinstance(child, UnreadableValue) for child in item):
            copies[id(item)] = [copies.get(id(child), child) for child in item
                                if not isinstance(child, UnreadableValue)]
    return copies.get(id(value), value)


def _containers_children_first(value: Any) -> list[Any]:
    """Every dictionary and list in ``value``, each once, after every container it holds."""
    order: list[Any] = []
    seen: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, children_done = stack.pop()
        if children_done:
            order.append(item)
        elif isinstance(item, dict | list) and id(item) not in seen:
            seen.add(id(item))
            stack.append((item, True))
            stack.extend((child, False)
                         for child in (item.values() if isinstance(item, dict) else item))
    return order


#: What a plist value is when it holds nothing to look into.
_SCALAR_TYPES = frozenset({str, bool, int, float, bytes, datetime.datetime})
_STRING_TYPE = frozenset({str})


def _holds_unreadable(value: Any) -> bool:
    """Whether ``value`` holds an :class:`UnreadableValue` or a key that is not a string. A
    cold boot asks it of every manifest: a dictionary's keys and scalars are told by their
    types in C, and only containers are walked."""
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _SCALAR_TYPES:
            continue
        if kind is UnreadableValue:
            return True
        if isinstance(item, dict | list) and id(item) not in seen:
            seen.add(id(item))
            if isinstance(item, dict):
                if not _STRING_TYPE.issuperset(map(type, item)):
                    return True
                item = item.values()
            if not _SCALAR_TYPES.issuperset(map(type, item)):
                stack.extend(item)
    return False


#: How much of a document the parser is given at a time (its buffer, not the values').
_CHUNK = 1 << 20

# Frame kinds, one per open element that is read.
_PLIST, _DICT, _ARRAY, _SCALAR = range(4)


class _Frame:
    """One open element: its kind, what it builds, and for a dictionary its pairing."""

    __slots__ = ("bad", "count", "key", "key_ok", "kind", "last_key", "last_tag", "order",
                 "tag", "text", "value")

    def __init__(self, kind: int, tag: str, value: Any = None, order: int = 0) -> None:
        self.kind = kind
        self.tag = tag
        self.value = value
        self.order = order  # a dictionary's place in document order, for its fault
        self.count = 0  # children begun
        self.key: str | UnreadableValue = ""  # a dictionary's key waiting for its value (an
        # unreadable one when the <key> held an element)
        self.bad = False  # a dictionary child where a <key> should be
        self.key_ok = True  # the waiting key came from a <key> (else its value is not kept)
        self.last_tag = ""  # a dictionary's last child, for the fault's message
        self.last_key: str | None = None
        self.text: list[str] = []


class ValueBuilder:
    """An ElementTree ``XMLParser`` target making the document's value (see the module doc)."""

    def __init__(self, restore: Restore) -> None:
        self._restore = restore
        self._frames: list[_Frame] = []
        self._text: list[str] | None = None  # where the text of the open scalar goes
        self._skipped = 0  # depth inside a subtree that is not read
        self._dicts = 0
        self._started = False
        self._shape_ok = True  # a <plist> holding exactly one element
        self._value: Any = None
        self._fault: tuple[int, str] | None = None  # the first (in document order) bad <dict>

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self._text = None  # text after a child is its tail, no value's
        if self._skipped:
            self._skipped += 1
            return
        if not self._frames:
            self._begin_document(tag)
            return
        parent = self._frames[-1]
        kind = parent.kind
        if kind == _SCALAR or (kind == _PLIST and parent.count):
            # A scalar's children are not read, and make it unreadable (plistlib would join
            # the text around them); a second value in <plist> refuses the file.
            self._shape_ok = self._shape_ok and kind == _SCALAR
            if kind == _SCALAR and not parent.last_tag:
                parent.last_tag = tag  # its first child, named in the reason
            self._skipped = 1
            return
        if kind == _DICT:
            if parent.count % 2 and tag == "key":
                # A <key> where a value should be: the key before it has none (lost), and
                # this one begins the next pair, so the pairs after it stay pairs.
                parent.count += 1
                parent.bad = True
            if not parent.count % 2:  # in a key's place
                parent.key_ok = tag == "key"
                parent.bad = parent.bad or not parent.key_ok
            parent.last_tag = tag
        parent.count += 1
        if tag == "dict":
            self._frames.append(_Frame(_DICT, tag, {}, self._dicts))
            self._dicts += 1
        elif tag == "array":
            self._frames.append(_Frame(_ARRAY, tag, []))
        else:
            frame = _Frame(_SCALAR, tag)
            self._text = frame.text
            self._frames.append(frame)

    def _begin_document(self, tag: str) -> None:
        self._started = True
        if tag == "plist":
            self._frames.append(_Frame(_PLIST, tag))
        else:
            self._shape_ok = False
            self._skipped = 1

    def data(self, text: str) -> None:
        if self._text is not None:
            self._text.append(text)

    def end(self, tag: str) -> None:
        self._text = None
        if self._skipped:
            self._skipped -= 1
            return
        frame = self._frames.pop()
        if not self._frames:
            self._shape_ok = self._shape_ok and frame.count == 1
            return
        parent = self._frames[-1]
        if frame.kind == _SCALAR:
            raw = "".join(frame.text) if frame.text else None
            if frame.tag == "key":
                parent.last_key = raw
            if parent.kind == _DICT and parent.count % 2:  # in a key's place
                parent.key = _nested(frame) or self._key(raw or "")
                return
            value = _nested(frame) or scalar_value(frame.tag, raw or "", self._restore)
        else:
            if frame.kind == _DICT and (frame.bad or frame.count % 2):
                self._note_fault(frame)
            if parent.kind == _DICT and parent.count % 2:
                return  # a container in a key's place (a fault of the parent's): not kept
            value = frame.value
        if parent.kind == _DICT:
            if parent.key_ok:  # a value whose key was no <key> is not kept
                parent.value[parent.key] = value
        elif parent.kind == _ARRAY:
            parent.value.append(value)
        else:
            self._value = value

    def _key(self, key: str) -> str:
        return key.translate(self._restore) if self._restore is not None else key

    def _note_fault(self, frame: _Frame) -> None:
        where = f"after key '{frame.last_key}'" if frame.last_tag == "key" \
            else "a value without its <key>"
        if self._fault is None or frame.order < self._fault[0]:
            self._fault = (frame.order, f"a <dict> is not <key>, value pairs ({where})")

    def close(self) -> None:
        """Nothing: :meth:`result` gives the value once the parser has closed."""

    def salvage(self) -> bool:
        """After the XML broke: close every element still open where it broke, keeping each
        container with what was read whole inside it (the value being read there, and a key
        without its value, left out), as if the document had ended there. True when that
        leaves the document a value (:meth:`result` gives it)."""
        self._skipped = 0
        self._text = None
        while len(self._frames) > 1:
            frame = self._frames.pop()
            parent = self._frames[-1]
            if frame.kind == _DICT and frame.bad:
                self._note_fault(frame)  # as its end would have
            if frame.kind == _SCALAR or (parent.kind == _DICT and parent.count % 2):
                continue  # a value cut short, or a container in a key's place
            if parent.kind == _DICT:
                parent.value[parent.key] = frame.value
            elif parent.kind == _ARRAY:
                parent.value.append(frame.value)
            else:
                self._value = frame.value
        return self._started and self._shape_ok and self._fault is None and \
            self._value is not None

    def despite_fault(self) -> Any:
        """The document's value when a ``<dict>`` was not ``<key>``, value pairs: each pair
        read kept, a key without its value and a value without its ``<key>`` left out (the
        repair a reader that takes repairs makes); None when the document is no plist."""
        return self._value if self._started and self._shape_ok else None

    def result(self) -> tuple[Any, str | None]:
        """The document's value, or None and the reason the document is refused."""
        if not (self._started and self._shape_ok):
            return None, NOT_A_PLIST
        if self._fault is not None:
            return None, self._fault[1]
        return self._value, None


def read_values(document: bytes | str, restore: Restore
                ) -> tuple[ValueBuilder, Exception | None]:
    """A :class:`ValueBuilder` given the document in chunks (memory is the values and the
    parser's buffer), and the error that stopped the parser (None: none; a LookupError is
    an encoding no codec has)."""
    builder = ValueBuilder(restore)
    try:
        parser = ET.XMLParser(target=builder)
        # Slices, not a memoryview: the parser takes bytes or str (a str is cut between
        # characters, never inside one).
        for start in range(0, len(document), _CHUNK):
            parser.feed(document[start:start + _CHUNK])
        parser.close()
    except (ET.ParseError, LookupError) as error:
        return builder, error
    return builder, None


def break_place(error: Exception) -> str:
    """``line 12, column 4 (mismatched tag)`` from the parser's message."""
    text = str(error)
    reason, _, place = text.partition(": line ")
    return f"line {place} ({reason})" if place else text


def _nested(frame: _Frame) -> UnreadableValue | None:
    """A scalar holding an element (``<string>a<b>c</b>d</string>``): CoreFoundation refuses
    it, ``plistlib`` joins the text around it; here that value alone is unreadable."""
    if not frame.last_tag:
        return None
    return UnreadableValue(f"<{frame.tag}> holds an element <{clip_text(frame.last_tag)}>, "
                           "not text only")


def scalar_value(tag: str, text: str, restore: Restore) -> Any:
    """The value of a scalar element, or an :class:`UnreadableValue` saying why not."""
    if tag == "string":
        return text.translate(restore) if restore is not None else text
    if tag in ("true", "false"):
        return tag == "true"
    try:
        if tag == "integer":
            return parse_integer(text)
        if tag == "real":
            return float(text)
        if tag == "data":
            return base64_data(text)
        if tag == "date":
            return _date(text.strip())
    except (ValueError, OverflowError):  # binascii.Error is a ValueError
        what = "base64" if tag == "data" else f"a valid {tag}"
        return UnreadableValue(f"<{tag}>{clip_text(text)}</{tag}> is not {what}")
    return UnreadableValue(f"<{clip_text(tag)}> is not a property-list element")


#: What a ``<data>`` may hold: base64's alphabet, its padding, and white space between.
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*", re.ASCII)


def base64_data(text: str) -> bytes:
    """A ``<data>`` element's bytes. Python's decoder passes over characters outside the
    alphabet, which would read ``<data>!!!</data>`` as empty data; CoreFoundation refuses
    them ("should be base64-encoded"), so here they are a ValueError."""
    if not _BASE64.fullmatch(text):
        raise ValueError("not base64")
    return binascii.a2b_base64(text.encode("ascii"))


#: An ``<integer>``'s text as CoreFoundation's XML reader takes it (``parseIntegerTag``):
#: white space, a sign, white space, then ``0x`` and hex digits or decimal digits, ASCII only
#: (no ``_``, no other scripts' digits, nothing after the digits).
_INTEGER = re.compile(r"[ \t\n\r]*([-+]?)[ \t\n\r]*(?:0[xX]0*([0-9a-fA-F]+)|0*([0-9]+))",
                      re.ASCII)
#: Significant digits past which a number is no 64-bit one, whatever they are: not converted
#: (a million digits would take seconds), but read as :data:`FAR_PAST_64_BITS`.
_MAX_DIGITS = 24
#: What stands for such an integer, so the checks of range
#: (:func:`~iokit_host.kext.plistshape.check_tree`, a property's type) name it as such.
FAR_PAST_64_BITS = 1 << 256


def parse_integer(text: str) -> int:
    """An ``<integer>``'s value (range not checked: the caller names a value past 64 bits).

    :raises ValueError: for text CoreFoundation would not read as an integer.
    """
    if text.isdigit() and text.isascii() and len(text) <= _MAX_DIGITS:
        return int(text)  # plain decimal digits, as nearly every manifest writes them
    match = _INTEGER.fullmatch(text)
    if match is None:
        raise ValueError(text)
    sign, hex_digits, digits = match.groups()
    significant = (hex_digits or digits).lstrip("0") or "0"
    if len(significant) > _MAX_DIGITS:
        value = FAR_PAST_64_BITS
    else:
        value = int(significant, 16 if hex_digits else 10)
    return -value if sign == "-" else value


def _date(text: str) -> datetime.datetime:
    found = _DATE.match(text)
    if found is None:
        raise ValueError(text)
    # Fields left out default as plistlib's do: the first month and day, midnight.
    year, month, day, hour, minute, second = (
        int(value) if value is not None else default
        for value, default in zip(found.groups(), (0, 1, 1, 0, 0, 0), strict=True))
    return datetime.datetime(year, month, day, hour, minute, second)


def clip_text(text: str, size: int = 40) -> str:
    """``text``, cut to ``size`` characters with ``...`` when longer (a message quotes it)."""
    return text if len(text) <= size else text[:size - 3] + "..."
