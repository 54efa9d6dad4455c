"""Loading a property list from untrusted bytes (CoreFoundation's ``CFPropertyListCreateWithData``
as IORegistryExplorer calls it on an archive and on each entry's properties).

A binary plist is checked for its shape first (:func:`iokit_host.kext.plistshape.check_binary`:
nesting, cycles, items), because ``plistlib``'s binary reader recurses and builds cycles; one
too damaged to check, or that ``plistlib`` refuses, is read object by object
(:mod:`~iokit_host.kext.plistbinary`), so a damaged object loses only itself; in a whole
document that includes a container a damaged reference puts inside itself. An entry's
property table is held to one property value's items (262,144); a whole document past that
(the archive of a large Mac: a few thousand entries of ~90 items each) to
:data:`MAX_DOCUMENT_ITEMS`, by the same check, and is then read by ``plistlib``. The XML reader keeps its own stack and refuses
entity declarations (XML goes through the kext reader's fast path,
:func:`iokit_host.kext.plistxml.loads`, which gives ``plistlib``'s values). Every failure,
whatever ``plistlib`` raised, becomes one :class:`PlistUnreadable` with a short reason.
"""

from __future__ import annotations

import plistlib
import struct
from typing import Any
from xml.parsers.expat import ExpatError

from iokit_host.explorer_archive.xmldocument import (
    XMLDocumentError,
    clip_text,
    load_xml_document,
)
from iokit_host.kext.plistbinary import BinaryPlistError, load_tolerant
from iokit_host.kext.plistrepair import Repair
from iokit_host.kext.plistshape import PlistShapeError, check_binary
from iokit_host.kext.plistxml import loads as loads_xml

__all__ = ["MAX_DOCUMENT_ITEMS", "PlistUnreadable", "load_plist"]

#: Most items (members of arrays and dictionaries, counted as a tree) a whole document holds:
#: a real archive holds ~90 per entry, so this fits :data:`~.entries.MAX_ENTRIES` entries
#: twice over (real archives: 65,000-77,000 items for 740-830 entries).
MAX_DOCUMENT_ITEMS = 1 << 23

#: What ``plistlib`` raises on malformed input (``InvalidFileException`` is a ValueError), and
#: what the XML parser raises for an encoding it does not know (a LookupError, as KeyError).
_PLISTLIB_ERRORS = (ValueError, TypeError, LookupError, AttributeError,
                    OverflowError, RecursionError, MemoryError, struct.error, ExpatError)


#: Longest reason quoted whole.
_QUOTED = 160


class PlistUnreadable(Exception):
    """The bytes are not a readable property list; ``reason`` says why, briefly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def load_plist(data: bytes, *, values: bool = False, repairs: list[Repair] | None = None
               ) -> Any:
    """The value of a property list's bytes (binary or XML).

    :param values: the plist is one entry's property table, held to the limits of property
        values (depth, items): read by the kext reader's fast path, which checks them (an
        archive holds ~800 such tables). Otherwise a whole document, which ``ioreg -a`` nests
        as deep as the registry: read by :func:`~iokit_host.explorer_archive.xmldocument.load_xml_document`,
        which keeps its own stack and leaves an ``UnreadableValue`` where a value's text
        does not parse.
    :param repairs: for a whole document, where the repairs made are noted: an XML's
        encoding or break (:func:`~iokit_host.explorer_archive.xmldocument.load_xml_document`),
        a binary plist cut short (:func:`~iokit_host.kext.plistbinary.load_tolerant`).
    """
    try:
        if data[:8] == b"bplist00":
            # Its shape checked, then read by plistlib; damaged, each object on its own; cut
            # short, as far as it goes.
            try:
                # A container inside itself in a whole document is one object's damage.
                return load_tolerant(data, repairs, cycles_damaged=not values)
            except PlistShapeError as error:
                if values or error.reference != "plist-value-too-large":
                    raise
                return _large_document(data, error)
        # A whole document loses only the values whose text does not parse (xmldocument).
        return loads_xml(data) if values else load_xml_document(data, repairs=repairs)
    except BinaryPlistError as error:
        raise PlistUnreadable(clip_text(str(error), _QUOTED)) from None
    except XMLDocumentError as error:
        raise PlistUnreadable(clip_text(error.reason, _QUOTED)) from None
    except PlistShapeError as error:
        raise PlistUnreadable(str(error)) from None
    except RecursionError:
        raise PlistUnreadable("nested too deeply") from None
    except _PLISTLIB_ERRORS as error:
        reason = str(error).strip() or type(error).__name__
        raise PlistUnreadable(clip_text(reason, _QUOTED)) from None


def _large_document(data: bytes, refused: PlistShapeError) -> Any:
    """A whole binary document past one value's items: held to a document's bounds
    (:func:`~iokit_host.kext.plistshape.check_binary` with :data:`MAX_DOCUMENT_ITEMS`:
    nesting, cycles, items as a tree), then read by ``plistlib``, which builds each object
    once however often it is referred to, so memory follows the file's size. Damaged, it is
    refused as it was (reading it object by object would build every reference anew)."""
    check_binary(data, MAX_DOCUMENT_ITEMS)
    try:
        return plistlib.loads(data, fmt=plistlib.FMT_BINARY)
    except (*_PLISTLIB_ERRORS, plistlib.InvalidFileException) as error:
        reason = str(error).strip() or type(error).__name__
        raise PlistUnreadable(clip_text(f"{refused}, and is damaged ({reason})", _QUOTED)
                              ) from None
