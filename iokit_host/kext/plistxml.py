"""Fast reading of property lists (CoreFoundation's ``CFPropertyListCreateWithData``).

Manifests are read on every cold boot, and ``plistlib``'s parser calls back into Python for
every XML event. Here the C ElementTree builder makes the tree and one walk turns it into
Python values, the same values ``plistlib.loads`` gives (a test checks the whole corpus).
Anything unusual (unknown tags, malformed values, other encodings, any depth) goes to the
careful reader, :mod:`~iokit_host.kext.plistvalues`, which makes the same values but leaves an
:class:`~iokit_host.kext.plistvalues.UnreadableValue` where a value's text does not parse
(``<date>soon</date>``), so that the manifest's reader drops that key alone and names it; a
binary plist is read by :mod:`~iokit_host.kext.plistbinary`, where a damaged object loses only
itself. Entity declarations are refused in any encoding, as ``plistlib`` refuses them.

What the kernel would refuse for its shape (nesting past ``MAX_VALUE_DEPTH``, a binary plist
containing itself, more than ``MAX_VALUE_ITEMS`` values, integers beyond 64 bits) raises
:class:`PlistShapeError` naming the key path, the same in XML and binary form, checked before
anything recursive walks the value (:mod:`iokit_host.kext.plistshape`).
"""

from __future__ import annotations

import binascii
import re
import xml.etree.ElementTree as ET
from typing import Any

from iokit_sdk.values import MAX_VALUE_DEPTH, MAX_VALUE_ITEMS

from iokit_host.kext.plistbinary import BinaryPlistError, load_tolerant
from iokit_host.kext.plistshape import PlistShapeError, check_tree
from iokit_host.kext.plistvalues import base64_data, break_place, parse_integer, read_values

__all__ = ["PlistShapeError", "PlistUnreadableError", "declares_entities", "loads"]

_INT64_MIN = -(1 << 63)
_UINT64_END = 1 << 64


class _Unusual(Exception):
    """Something this fast path does not handle; the careful reader decides."""


class PlistUnreadableError(ValueError):
    """The bytes are no property list; the message says why, in the file's terms."""


def loads(data: bytes, *, careful: list[bool] | None = None) -> Any:
    """Parse a plist like ``plistlib.loads``, each value whose text does not parse an
    :class:`~iokit_host.kext.plistvalues.UnreadableValue` in its place.

    :param careful: given, True is put in it when the value was not read by the fast path
        (so may hold an unreadable value, or a key that is not a string); a reader that
        keeps the value then leaves those out, and one that knows the fast path read it
        spares the walk (a cold boot reads hundreds of manifests).
    :raises PlistShapeError: for a value too deep, cyclic, too large or out of range.
    :raises PlistUnreadableError: for bytes that are no property list at all.
    """
    if data[:8] == b"bplist00":
        if careful is not None:
            careful.append(True)  # read by the careful reader, whatever it finds
        try:  # its shape checked first, then read; a damaged object loses only itself
            value = load_tolerant(data)
        except BinaryPlistError as error:
            raise PlistUnreadableError(f"a damaged binary plist: {error}") from None
        check_tree(value)  # what it holds, as of an XML one (integers, keys)
        return value
    encoding = _encoding(data)
    if _declares(data, encoding):
        raise PlistUnreadableError("XML entity declarations are not supported in plist files")
    _check_size(data)
    if encoding is None:
        try:
            root = ET.fromstring(data)
            if root.tag != "plist" or len(root) != 1:
                raise _Unusual
            _check_items(root)
            return _value(root[0], 0)
        except PlistShapeError:
            raise  # a ValueError, but the file's own shape: the careful reader says it again
        except (ET.ParseError, _Unusual, ValueError, TypeError, StopIteration, RecursionError):
            pass
        if careful is not None:
            careful.append(True)
    return _careful(data)


def _careful(data: bytes) -> Any:
    """The document read by the careful reader (its own stack: any depth), then checked."""
    builder, error = read_values(data, None)
    if isinstance(error, LookupError):  # an encoding no codec has
        raise PlistUnreadableError(f"the XML declares an unknown encoding ({error})")
    if error is not None:
        raise PlistUnreadableError(f"the XML breaks at {break_place(error)}")
    value, fault = builder.result()
    if fault is not None:
        raise PlistUnreadableError(fault)
    check_tree(value)
    return value


#: The XML declaration's encoding, when it names one.
_DECLARED = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")
_PLAIN = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_USUAL_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def declares_entities(data: bytes) -> bool:
    """Whether the XML document declares entities (``<!ENTITY``), whatever its encoding:
    CoreFoundation's reader does not expand them and ``plistlib`` refuses them, but the C
    ElementTree builder expands them, so every XML reader here asks this first."""
    return _declares(data, _encoding(data))


def _declares(data: bytes, encoding: str | None) -> bool:
    """:func:`declares_entities`, the document's encoding (:func:`_encoding`) known."""
    if b"<!ENTITY" in data:
        return True
    if encoding is None:
        return False
    try:
        return "<!ENTITY" in data.decode(encoding, errors="replace")
    except LookupError:  # a name no codec has: the parser refuses the document itself
        return False


def _encoding(data: bytes) -> str | None:
    """The document's encoding when it is not UTF-8 (in which ``<!ENTITY`` shows as those
    bytes): from its byte-order mark, its zero bytes, or its declaration; None for UTF-8."""
    if data.startswith(_USUAL_DECLARATION):  # what Xcode and plistlib write: no search
        return None
    for mark, name in _BOMS:
        if data.startswith(mark):
            return name
    head = data[:4]
    if b"\x00" in head:  # UTF-16 or UTF-32 without a mark: '<' is 3C with zeros about it
        wide = "utf-32" if head.count(b"\x00") == 3 else "utf-16"
        return f"{wide}-{'le' if head[0] else 'be'}"
    declared = _DECLARED.match(data, 3 if data.startswith(b"\xef\xbb\xbf") else 0)
    if declared is None:
        return None
    name = declared[1].decode("ascii", errors="replace").lower()
    return None if name in _PLAIN else name


#: Below this many ``<``, a document cannot hold more values than a plist may (each value
#: and each key is at least one ``<``; a ``<dict>`` of keys holds about as many as values).
_FEW_TAGS = 2 * MAX_VALUE_ITEMS + 16


def _check_size(data: bytes) -> None:
    """Refuse a document of more than ``MAX_VALUE_ITEMS`` values before any tree is built.

    An element tree costs some 150 bytes an element, ``plistlib``'s values as much: a 50 MB
    manifest of small elements took 700 MB to be refused. Counting ``<`` (in C, no
    allocation) clears every real manifest at once; past it the elements are counted by expat
    with no tree, and the count stops at the limit. Broken XML is left to the readers below.
    """
    if data.count(b"<") <= _FEW_TAGS:
        return
    counter = _ValueCounter()
    parser = ET.XMLParser(target=counter)
    try:
        for start in range(0, len(data), _CHUNK):
            parser.feed(data[start:start + _CHUNK])
    except _TooMany:
        raise PlistShapeError("plist-value-too-large", "",
                              f"holds more than {MAX_VALUE_ITEMS} values (or as many keys"
                              " again)") from None
    except ET.ParseError:
        if counter.items > MAX_VALUE_ITEMS // 2:
            raise  # too large to build a tree of only to have plistlib say this again
        return


_CHUNK = 1 << 20


class _TooMany(Exception):
    pass


class _ValueCounter:
    """An expat target that counts values and keys, keeping none.

    Keys count too: a ``<dict>`` holds one key a value, so ``2 * MAX_VALUE_ITEMS`` elements
    clear any plist the limit allows, and a flood of keys (no values) is refused here rather
    than built into a tree first.
    """

    def __init__(self) -> None:
        self.items = -2  # the <plist> and its top value are not items
        self.elements = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.elements += 1
        if self.elements > _FEW_TAGS:
            raise _TooMany
        if tag != "key":
            self.items += 1
            if self.items > MAX_VALUE_ITEMS:
                raise _TooMany

    def end(self, tag: str) -> None:
        pass

    def data(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def _check_items(root: ET.Element) -> None:
    """Refuse, as the other readers do (:func:`check_tree`, :func:`check_binary`), a plist
    holding more than ``MAX_VALUE_ITEMS`` values in its arrays and dictionaries: every element
    but the ``<plist>``, the top value and the ``<key>``s is one (keys are bounded by
    :func:`_check_size`, before the tree)."""
    if len(list(root.iter())) - 2 <= MAX_VALUE_ITEMS:
        return  # keys included, in C, it is not over: counting one by one costs a cold boot 3%
    items = sum(1 for element in root.iter() if element.tag != "key") - 2
    if items > MAX_VALUE_ITEMS:
        raise PlistShapeError("plist-value-too-large", "",
                              f"holds {items} values, more than {MAX_VALUE_ITEMS}")


def _value(element: ET.Element, depth: int) -> Any:
    tag = element.tag
    if len(element) and tag not in ("dict", "array"):
        raise _Unusual  # a scalar holding an element: the careful reader names it
    if tag == "string":
        return element.text or ""
    if tag in ("dict", "array") and depth >= MAX_VALUE_DEPTH:
        raise _Unusual  # the careful reader reads it, and check_tree names the place
    if tag == "dict":
        result: dict[str, Any] = {}
        children = iter(element)
        for key in children:
            if key.tag != "key" or len(key):
                raise _Unusual
            child = next(children)
            # A string (most values) without the call: what _value returns for it first.
            result[key.text or ""] = (child.text or "" if child.tag == "string" and not len(child)
                                      else _value(child, depth + 1))
        return result
    if tag == "array":
        return [child.text or "" if child.tag == "string" and not len(child)
                else _value(child, depth + 1) for child in element]
    if tag == "integer":
        number = parse_integer(element.text or "")  # one grammar with the careful reader
        if not _INT64_MIN <= number < _UINT64_END:
            raise _Unusual
        return number
    if tag in ("true", "false"):
        return tag == "true"
    if tag == "real":
        return float(element.text or "")
    if tag == "data":
        try:
            return base64_data(element.text or "")
        except (binascii.Error, ValueError) as error:
            raise _Unusual from error
    if tag == "date":
        raise _Unusual  # rare in manifests: the careful reader reads plistlib's grammar
    raise _Unusual
