"""A whole XML property list document (``ioreg -a`` output, an archive saved as XML) read so
that one unreadable value loses only itself (CoreFoundation's ``CFPropertyListCreateWithData``
refuses the whole file instead; IORegistryExplorer then shows nothing).

A document of thousands of entries written by hand, cut and pasted or edited may hold a
``<date>`` that is no date, an ``<integer>`` of thousands of digits or with a typo, a
``<data>`` that is not base64, a ``<real>`` that is no number or an element no plist has.
``plistlib`` refuses the whole document for any one of them (with reasons such as
``'NoneType' object has no attribute 'groupdict'``). Here the C ElementTree parser reads the
XML (no Python call per element, any depth) and one walk on an explicit stack turns it into
``plistlib``'s values, but each such scalar becomes an :class:`UnreadableValue` in its place,
saying why; the readers of entries drop that value alone with their usual warning (a
property) or treat it as a field of the wrong type (an entry's name, id or class). What
breaks the XML itself (a tag left open, a ``<key>`` without its value) still refuses the
file: nothing past it can be placed. Two things expat refuses are not that: a control
character in a string, which CoreFoundation writes as it is (kept), and bytes that are not
UTF-8 in a file an editor saved (read as Windows-1252, else Latin-1, and noted).
"""

from __future__ import annotations

import binascii
import datetime
import re
import xml.etree.ElementTree as ET
from typing import Any

from iokit_host.ioreg_import.cfvalues import UnreadableValue
from iokit_host.ioreg_import.text import legacy_decode

__all__ = ["UnreadableValue", "XMLDocumentError", "clip_text", "load_xml_document"]

#: plistlib's date grammar: ``2020-01-02T03:04:05Z``, each field after the year optional.
_DATE = re.compile(r"(?P<year>\d\d\d\d)(?:-(?P<month>\d\d)(?:-(?P<day>\d\d)"
                   r"(?:T(?P<hour>\d\d)(?::(?P<minute>\d\d)(?::(?P<second>\d\d))?)?)?)?)?Z$")


class XMLDocumentError(Exception):
    """The XML itself is broken, or is no property list; ``reason`` says why, briefly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def load_xml_document(data: bytes, *, repairs: list[str] | None = None) -> Any:
    """The document's value, each unreadable scalar an :class:`UnreadableValue`.

    :param repairs: when given, a document that is not well formed only for control
        characters in its strings (CoreFoundation writes them as they are) or for bytes that
        are not UTF-8 is read: the characters kept, the bytes read as Windows-1252 (else
        Latin-1) as the text-dump reader reads them, and a line added here for the latter,
        for the caller's warnings.
    :raises XMLDocumentError: the XML is not well formed, declares entities, or its root is
        not ``<plist>`` holding one value.
    """
    if b"<!ENTITY" in data:  # as plistlib: no entity expansion from untrusted files
        raise XMLDocumentError("XML entity declarations are not supported in plist files")
    root, restore = _parse(data, repairs)
    if root.tag != "plist" or len(root) != 1:
        raise XMLDocumentError("the XML is not a property list (<plist> holding one value)")
    holder: list[Any] = [None]
    # Each task: an element, the container its value goes into and the key or index there.
    # Containers are made with their keys (or slots) in document order before they are
    # filled, so a dictionary keeps the order it was written in.
    tasks: list[tuple[ET.Element, Any, Any]] = [(root[0], holder, 0)]
    while tasks:
        element, into, place = tasks.pop()
        tag = element.tag
        if tag == "dict":
            value: dict[str, Any] = {}
            into[place] = value
            pairs = _pairs(element, restore)
            for key, _ in pairs:
                value[key] = None
            tasks.extend((child, value, key) for key, child in reversed(pairs))
        elif tag == "array":
            into[place] = items = [None] * len(element)
            tasks.extend((child, items, index) for index, child in reversed(
                list(enumerate(element))))
        else:
            into[place] = _scalar(element, restore)
    return holder[0]


_Restore = dict[int, int] | None


def _parse(data: bytes, repairs: list[str] | None) -> tuple[ET.Element, _Restore]:
    """The element tree, and the table that gives strings back their control characters
    when they had to be stood in for (None when the XML parsed as it is)."""
    try:
        return ET.fromstring(data), None
    except ET.ParseError as error:
        # A UTF-16 file the reader already made UTF-8 still declares encoding="UTF-16":
        # read as text, the declaration is not consulted.
        if "encoding" in str(error):
            try:
                return ET.fromstring(data.decode("utf-8")), None
            except (UnicodeDecodeError, ET.ParseError):
                pass
        if repairs is not None:
            text, notes, restore = _readable(data)
            try:
                root = ET.fromstring(text)
            except ET.ParseError:
                pass  # broken beyond its characters: the first error says where
            else:
                repairs.extend(notes)
                return root, restore
        raise XMLDocumentError(str(error)) from None


#: Characters XML 1.0 cannot hold, even escaped, that CoreFoundation writes as they are in a
#: string (``ioreg -a`` of a property holding a control character): while parsing, each
#: stands in as a private-use character, given back in every string and key after. The
#: stand-ins are a run of private-use characters the document itself does not hold (a
#: string may hold any character, those too), so giving them back changes nothing else.
_CONTROLS = (*range(0x20), 0xFFFE, 0xFFFF)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: Where a run of stand-ins may start: planes 15 and 16 are private use.
_STAND_INS = range(0xF0000, 0x10FF00, 0x1000)
#: Bytes that were not UTF-8, as ``surrogateescape`` keeps them.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def _readable(data: bytes) -> tuple[str, list[str], dict[int, int]]:
    """The document's text with control characters stood in for and bytes that are not UTF-8
    read as Windows-1252 (else Latin-1); a line for the latter, which is damage; and the
    table that gives the control characters back."""
    notes = []
    text = data.decode("utf-8", errors="surrogateescape")
    escaped = len(_NOT_UTF8.findall(text))
    if escaped:
        text = _NOT_UTF8.sub(lambda found: legacy_decode(bytes([ord(found.group()) - 0xDC00])),
                             text)
        notes.append(f"{escaped} byte(s) that are not UTF-8, read as Windows-1252 or Latin-1")
    base = next((start for start in _STAND_INS
                 if not re.search(f"[{chr(start)}-{chr(start + len(_CONTROLS) - 1)}]", text)),
                None)
    if base is None:  # every run is in the text: nothing stands in, expat says what is wrong
        return text, notes, {}
    stand_in = {code: chr(base + index) for index, code in enumerate(_CONTROLS)}
    text = _CONTROL.sub(lambda found: stand_in[ord(found.group())], text)
    return text, notes, {ord(char): code for code, char in stand_in.items()}


def _pairs(element: ET.Element, restore: _Restore) -> list[tuple[str, ET.Element]]:
    children = list(element)
    if len(children) % 2 or any(key.tag != "key" for key in children[::2]):
        line = f"after key '{children[-1].text}'" if children and children[-1].tag == "key" \
            else "a value without its <key>"
        raise XMLDocumentError(f"a <dict> is not <key>, value pairs ({line})")
    # Later duplicates win, as in plistlib: the walk fills them in document order.
    return [(_text(key, restore), value) for key, value in zip(children[::2], children[1::2],
                                                               strict=True)]


def _text(element: ET.Element, restore: _Restore) -> str:
    text = element.text or ""
    return text.translate(restore) if restore is not None else text


def _scalar(element: ET.Element, restore: _Restore) -> Any:
    tag, text = element.tag, element.text or ""
    if tag == "string":
        return _text(element, restore)
    if tag in ("true", "false"):
        return tag == "true"
    try:
        if tag == "integer":
            return _integer(text.strip())
        if tag == "real":
            return float(text)
        if tag == "data":
            return binascii.a2b_base64(text.encode("ascii"))
        if tag == "date":
            return _date(text.strip())
    except (ValueError, UnicodeEncodeError, OverflowError):
        return UnreadableValue(f"<{tag}>{clip_text(text)}</{tag}> is not a valid {tag}")
    return UnreadableValue(f"<{clip_text(tag)}> is not a property-list element")


def _integer(text: str) -> int:
    if len(text) > 64:  # 2^64 in binary digits: longer text is no 64-bit number
        raise ValueError(text)
    return int(text, 16) if text.lower().startswith(("0x", "-0x")) else int(text)


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
