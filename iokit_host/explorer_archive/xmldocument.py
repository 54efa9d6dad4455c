"""A whole XML property list document (``ioreg -a`` output, an archive saved as XML) read so
that one unreadable value loses only itself (CoreFoundation's ``CFPropertyListCreateWithData``
refuses the whole file instead; IORegistryExplorer then shows nothing).

A document of thousands of entries written by hand, cut and pasted or edited may hold a
``<date>`` that is no date, an ``<integer>`` of thousands of digits or with a typo, a
``<data>`` that is not base64, a ``<real>`` that is no number or an element no plist has.
``plistlib`` refuses the whole document for any one of them (with reasons such as
``'NoneType' object has no attribute 'groupdict'``). Here the C expat parser reads the XML
in chunks and :mod:`.xmlvalues` makes ``plistlib``'s values as the elements arrive (no
document tree, any depth: memory is the values), but each such scalar becomes an
:class:`UnreadableValue` in its place, saying why; the readers of entries drop that value
alone with their usual warning (a property) or treat it as a field of the wrong type (an
entry's name, id or class). What
breaks the XML itself (a tag left open, a ``<key>`` without its value) still refuses the
file: nothing past it can be placed. Two things expat refuses are not that: a control
character in a string, which CoreFoundation writes as it is (kept), and bytes that are not
UTF-8 in a file an editor saved (read as Windows-1252, else Latin-1, and noted).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from iokit_host.explorer_archive.xmlvalues import Restore, ValueBuilder, clip_text
from iokit_host.ioreg_import.cfvalues import UnreadableValue
from iokit_host.ioreg_import.text import legacy_decode

__all__ = ["UnreadableValue", "XMLDocumentError", "clip_text", "load_xml_document"]

#: How much of the document the parser is given at a time (its buffer, not the values').
_CHUNK = 1 << 20


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
    value, fault = _parse(data, repairs).result()
    if fault is not None:
        raise XMLDocumentError(fault)
    return value


def _parse(data: bytes, repairs: list[str] | None) -> ValueBuilder:
    """The builder that read the whole document; when the XML does not parse as it is, the
    one that read it with control characters stood in for (its strings given them back)."""
    try:
        return _read(data, None)
    except (ET.ParseError, LookupError) as error:
        # A UTF-16 file the reader already made UTF-8 still declares encoding="UTF-16", and
        # an edited one may declare an encoding Python does not know (a LookupError): read
        # as text, the declaration is not consulted.
        if "encoding" in str(error):
            try:
                return _read(data.decode("utf-8"), None)
            except (UnicodeDecodeError, ET.ParseError):
                pass
        if repairs is not None:
            text, notes, restore = _readable(data)
            try:
                builder = _read(text, restore)
            except ET.ParseError:
                pass  # broken beyond its characters: the first error says where
            else:
                repairs.extend(notes)
                return builder
        raise XMLDocumentError(str(error)) from None


def _read(document: bytes | str, restore: Restore) -> ValueBuilder:
    builder = ValueBuilder(restore)
    parser = ET.XMLParser(target=builder)
    for chunk in _chunks(document):
        parser.feed(chunk)
    parser.close()
    return builder


def _chunks(document: bytes | str) -> Iterator[bytes | str]:
    # Slices, not a memoryview: the parser takes bytes or str (a str is cut between
    # characters, never inside one).
    for start in range(0, len(document), _CHUNK):
        yield document[start:start + _CHUNK]


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
