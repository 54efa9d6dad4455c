"""A whole XML property list document (``ioreg -a`` output, an archive saved as XML) read so
that one unreadable value loses only itself (CoreFoundation's ``CFPropertyListCreateWithData``
refuses the whole file instead; IORegistryExplorer then shows nothing).

A document of thousands of entries written by hand, cut and pasted or edited may hold a
``<date>`` that is no date, an ``<integer>`` of thousands of digits or with a typo, a
``<data>`` that is not base64, a ``<real>`` that is no number or an element no plist has.
``plistlib`` refuses the whole document for any one of them (with reasons such as
``'NoneType' object has no attribute 'groupdict'``). Here the C expat parser reads the XML
in chunks and :mod:`~iokit_host.kext.plistvalues` makes ``plistlib``'s values as the elements arrive (no
document tree, any depth: memory is the values), but each such scalar becomes an
:class:`UnreadableValue` in its place, saying why; the readers of entries drop that value
alone with their usual warning (a property) or treat it as a field of the wrong type (an
entry's name, id or class). What
breaks the XML itself (cut short, a tag left open or mismatched, junk after the end) loses
what follows the break: nothing past it can be placed, but what came before is read as if
the document ended there (when the caller takes repairs; else, and in strict mode, it refuses
the file). Two things expat refuses are not that: a control
character in a string, which CoreFoundation writes as it is (kept), and bytes that are not
UTF-8 in a file an editor saved (read as Windows-1252, else Latin-1, and noted).
"""

from __future__ import annotations

import re
from typing import Any

from iokit_host.ioreg_import.text import legacy_decode
from iokit_host.kext.plistrepair import Repair
from iokit_host.kext.plistvalues import (
    UnreadableValue,
    ValueBuilder,
    break_place,
    clip_text,
    read_values,
)
from iokit_host.kext.plistxml import declares_entities

__all__ = ["BROKEN", "NOT_UTF8", "UNPAIRED", "UnreadableValue", "XMLDocumentError", "clip_text",
           "load_xml_document"]

class XMLDocumentError(Exception):
    """The XML itself is broken, or is no property list; ``reason`` says why, briefly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


NOT_UTF8 = "ioreg-dump-not-utf8"
BROKEN = "ioreg-dump-xml-broken"
UNPAIRED = "ioreg-dump-xml-unpaired"
_NOT_UTF8_HINT = "the file was edited or saved in another encoding; ioreg -a writes UTF-8"
_BROKEN_HINT = "the file was cut short or edited; attach the whole file ioreg -a wrote"


def load_xml_document(data: bytes, *, repairs: list[Repair] | None = None) -> Any:
    """The document's value, each unreadable scalar an :class:`UnreadableValue`.

    :param repairs: when given, a document that is not well formed only for control
        characters in its strings (CoreFoundation writes them as they are) or for bytes that
        are not UTF-8 is read: the characters kept, the bytes read as Windows-1252 (else
        Latin-1) as the text-dump reader reads them, and a :class:`Repair` added here for the
        latter, for the caller's warnings. One whose XML breaks (cut short, a tag left open
        or mismatched, junk after it) is read up to the break: every element still open
        there closed with what it held whole, the rest lost, and a :class:`Repair` added.
    :raises XMLDocumentError: the XML is not well formed (``repairs`` not given, or nothing
        before the break), declares entities, or its root is not ``<plist>`` holding one
        value.
    """
    if declares_entities(data):  # as plistlib: no entity expansion from untrusted files
        raise XMLDocumentError("XML entity declarations are not supported in plist files")
    builder = _parse(data, repairs)
    value, fault = builder.result()
    if fault is None:
        return value
    kept = builder.despite_fault() if repairs is not None else None
    if kept is None or repairs is None:
        raise XMLDocumentError(fault)
    repairs.append(Repair(UNPAIRED, fault, "the pairs around it are kept, what has no "
                          "partner is lost", _BROKEN_HINT))
    return kept


def _parse(data: bytes, repairs: list[Repair] | None) -> ValueBuilder:
    """The builder that read the whole document; when the XML does not parse as it is, the
    one that read it with control characters stood in for (its strings given them back),
    as far as it could."""
    builder, error = read_values(data, None)
    if error is None:
        return builder
    if "encoding" in str(error):
        # A UTF-16 file the reader already made UTF-8 still declares encoding="UTF-16", and
        # an edited one may declare an encoding Python does not know (a LookupError): read
        # as text, the declaration is not consulted.
        try:
            text_builder, text_error = read_values(data.decode("utf-8"), None)
        except UnicodeDecodeError:
            pass
        else:
            if text_error is None:
                return text_builder
    if repairs is None:
        raise XMLDocumentError(str(error))
    text, notes, restore = _readable(data)
    builder, broken = read_values(text, restore)
    if broken is not None:
        if not builder.salvage():  # broken before any value: the first error says where
            raise XMLDocumentError(str(error))
        notes.append(Repair(BROKEN, f"the XML breaks at {break_place(broken)}",
                            "what came before is kept, what follows is lost", _BROKEN_HINT))
    repairs.extend(notes)
    return builder


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


def _readable(data: bytes) -> tuple[str, list[Repair], dict[int, int]]:
    """The document's text with control characters stood in for and bytes that are not UTF-8
    read as Windows-1252 (else Latin-1); a line for the latter, which is damage; and the
    table that gives the control characters back."""
    notes: list[Repair] = []
    text = data.decode("utf-8", errors="surrogateescape")
    escaped = len(_NOT_UTF8.findall(text))
    if escaped:
        text = _NOT_UTF8.sub(lambda found: legacy_decode(bytes([ord(found.group()) - 0xDC00])),
                             text)
        notes.append(Repair(NOT_UTF8, f"the XML holds {escaped} byte(s) that are not UTF-8, "
                            "read as Windows-1252 or Latin-1", "values kept", _NOT_UTF8_HINT))
    base = next((start for start in _STAND_INS
                 if not re.search(f"[{chr(start)}-{chr(start + len(_CONTROLS) - 1)}]", text)),
                None)
    if base is None:  # every run is in the text: nothing stands in, expat says what is wrong
        return text, notes, {}
    stand_in = {code: chr(base + index) for index, code in enumerate(_CONTROLS)}
    text = _CONTROL.sub(lambda found: stand_in[ord(found.group())], text)
    return text, notes, {ord(char): code for code, char in stand_in.items()}
