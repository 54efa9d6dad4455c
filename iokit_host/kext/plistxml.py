"""Fast reading of XML property lists (CoreFoundation's ``CFPropertyListCreateWithData``).

Manifests are read on every cold boot, and ``plistlib``'s parser calls back into Python for
every XML event. Here the C ElementTree builder makes the tree and one walk turns it into
Python values, the same values ``plistlib.loads`` gives (a test checks the whole corpus).
Anything unusual (binary plists, entity declarations, unknown tags, malformed values) goes
to ``plistlib`` itself, so its errors and its results stay the reference.

What the kernel would refuse for its shape (nesting past ``MAX_VALUE_DEPTH``, a binary plist
containing itself, more than ``MAX_VALUE_ITEMS`` values, integers beyond 64 bits) raises
:class:`PlistShapeError` naming the key path, the same in XML and binary form, checked before anything recursive walks the value (:mod:`iokit_host.kext.plistshape`).
"""

from __future__ import annotations

import base64
import binascii
import plistlib
import xml.etree.ElementTree as ET
from typing import Any

from iokit_sdk.values import MAX_VALUE_DEPTH, MAX_VALUE_ITEMS

from iokit_host.kext.plistshape import PlistShapeError, check_binary, check_tree

__all__ = ["PlistShapeError", "loads"]

_INT64_MIN = -(1 << 63)
_UINT64_END = 1 << 64


class _Unusual(Exception):
    """Something this fast path does not handle; plistlib decides."""


def loads(data: bytes) -> Any:
    """Parse a plist like ``plistlib.loads`` (XML fast path, plistlib for the rest).

    :raises PlistShapeError: for a value too deep, cyclic, too large or out of range.
    """
    if data[:8] == b"bplist00":
        check_binary(data)  # first: plistlib's binary reader recurses, and builds cycles
        return _checked(data)
    if b"<!ENTITY" in data:
        return _checked(data)
    _check_size(data)
    try:
        root = ET.fromstring(data)
        if root.tag != "plist" or len(root) != 1:
            raise _Unusual
        _check_items(root)
        return _value(root[0], 0)
    except PlistShapeError:
        raise  # a ValueError, but the file's own shape: plistlib would only say it again
    except (ET.ParseError, _Unusual, ValueError, TypeError, StopIteration, RecursionError):
        # plistlib's XML reader keeps its own stack: it reads any depth, then it is checked.
        return _checked(data)


def _checked(data: bytes) -> Any:
    try:
        value = plistlib.loads(data)
    except RecursionError:
        raise PlistShapeError("plist-value-too-deep", "",
                              f"nested deeper than {MAX_VALUE_DEPTH} levels") from None
    except ValueError as error:
        if "digits" not in str(error):  # int()'s limit on decimal text (4300 digits)
            raise
        raise PlistShapeError("plist-integer-out-of-range", "",
                              "an <integer> has thousands of digits; integers fit in 64 "
                              "bits") from None
    check_tree(value)
    return value


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
                              f"holds more than {MAX_VALUE_ITEMS} values") from None
    except ET.ParseError:
        if counter.items > MAX_VALUE_ITEMS // 2:
            raise  # too large to build a tree of only to have plistlib say this again
        return


_CHUNK = 1 << 20


class _TooMany(Exception):
    pass


class _ValueCounter:
    """An expat target that counts values (every element but ``<key>``), keeping none."""

    def __init__(self) -> None:
        self.items = -2  # the <plist> and its top value are not items

    def start(self, tag: str, attrib: dict[str, str]) -> None:
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
    but the ``<plist>``, the top value and the ``<key>``s is one."""
    if len(list(root.iter())) - 2 <= MAX_VALUE_ITEMS:
        return  # keys included, in C, it is not over: counting one by one costs a cold boot 3%
    items = sum(1 for element in root.iter() if element.tag != "key") - 2
    if items > MAX_VALUE_ITEMS:
        raise PlistShapeError("plist-value-too-large", "",
                              f"holds {items} values, more than {MAX_VALUE_ITEMS}")


def _value(element: ET.Element, depth: int) -> Any:
    tag = element.tag
    if tag == "string":
        return element.text or ""
    if tag in ("dict", "array") and depth >= MAX_VALUE_DEPTH:
        raise _Unusual  # plistlib reads it, and check_tree names the place
    if tag == "dict":
        result: dict[str, Any] = {}
        children = iter(element)
        for key in children:
            if key.tag != "key":
                raise _Unusual
            child = next(children)
            # A string (most values) without the call: what _value returns for it first.
            result[key.text or ""] = (child.text or "" if child.tag == "string"
                                      else _value(child, depth + 1))
        return result
    if tag == "array":
        return [child.text or "" if child.tag == "string" else _value(child, depth + 1)
                for child in element]
    if tag == "integer":
        text = (element.text or "").strip()
        number = int(text, 16) if text.lower().startswith(("0x", "-0x")) else int(text)
        if not _INT64_MIN <= number < _UINT64_END:
            raise _Unusual
        return number
    if tag in ("true", "false"):
        return tag == "true"
    if tag == "real":
        return float(element.text or "")
    if tag == "data":
        try:
            return base64.b64decode((element.text or "").encode("ascii"))
        except (binascii.Error, UnicodeEncodeError) as error:
            raise _Unusual from error
    if tag == "date":
        raise _Unusual  # rare in manifests; plistlib's date grammar is the reference
    raise _Unusual
