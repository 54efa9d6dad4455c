"""Loading a property list from untrusted bytes (CoreFoundation's ``CFPropertyListCreateWithData``
as IORegistryExplorer calls it on an archive and on each entry's properties).

A binary plist is checked for its shape first (:func:`iokit_host.kext.plistshape.check_binary`:
nesting, cycles, items), because ``plistlib``'s binary reader recurses and builds cycles; one
too damaged to check, or that ``plistlib`` refuses, is read object by object
(:mod:`~iokit_host.kext.plistbinary`), so a damaged object loses only itself. That check holds
a plist to one property value's items (262,144), which the archive of a large Mac (a few
thousand entries of ~90 items each) exceeds: a whole document past it is read by ``plistlib``
(which builds each object once, however often it is referred to, so memory follows the
file's size) and then held to :data:`MAX_DOCUMENT_ITEMS` items as a tree, nesting and cycles
as before. The XML reader keeps its own stack and refuses entity declarations (XML goes
through the kext reader's fast path, :func:`iokit_host.kext.plistxml.loads`, which gives
``plistlib``'s values). Every failure, whatever ``plistlib`` raised, becomes one
:class:`PlistUnreadable` with a short reason.
"""

from __future__ import annotations

import plistlib
import struct
from collections.abc import Mapping
from typing import Any
from xml.parsers.expat import ExpatError

from iokit_sdk.values import MAX_VALUE_DEPTH

from iokit_host.explorer_archive.xmldocument import (
    XMLDocumentError,
    clip_text,
    load_xml_document,
)
from iokit_host.kext.plistbinary import BinaryPlistError, load_tolerant
from iokit_host.kext.plistrepair import Repair
from iokit_host.kext.plistshape import PlistShapeError
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
                return load_tolerant(data, repairs)
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
    """A whole binary document larger than one value may be: read by ``plistlib`` and held
    to :data:`MAX_DOCUMENT_ITEMS` (see the module doc). Damaged, it is refused as it was."""
    try:
        document = plistlib.loads(data, fmt=plistlib.FMT_BINARY)
    except RecursionError:
        raise PlistUnreadable("nested too deeply") from None
    except (*_PLISTLIB_ERRORS, plistlib.InvalidFileException) as error:
        reason = str(error).strip() or type(error).__name__
        raise PlistUnreadable(clip_text(f"{refused}, and is damaged ({reason})", _QUOTED)
                              ) from None
    _check_document(document)
    return document


#: A step back to the top: (the parent's crumb, the key or index that led here).
_Crumb = tuple[Any, str] | None


def _check_document(document: Any) -> None:
    """Refuse a document that holds more than :data:`MAX_DOCUMENT_ITEMS` items as a tree,
    nests deeper than ``MAX_VALUE_DEPTH`` or contains itself. Without recursion."""
    items = 0
    on_path: set[int] = set()
    # Each task: a container, the crumb to it and its depth; or (None, None, its id) once
    # its members are done, to leave the path.
    tasks: list[tuple[Any, _Crumb, int]] = [(document, None, 0)]
    while tasks:
        value, crumb, depth = tasks.pop()
        if value is None:
            on_path.discard(depth)
            continue
        if id(value) in on_path:
            raise PlistUnreadable(f"{_spell(crumb)}: contains itself (a cycle)")
        if depth >= MAX_VALUE_DEPTH:
            raise PlistUnreadable(f"{_spell(crumb)}: nested deeper than {MAX_VALUE_DEPTH}")
        pairs = (((f".{key}", item) for key, item in value.items())
                 if isinstance(value, Mapping) else
                 ((f"[{index}]", item) for index, item in enumerate(value)))
        items += len(value)
        if items > MAX_DOCUMENT_ITEMS:
            raise PlistUnreadable(f"{_spell(crumb)}: holds more than {MAX_DOCUMENT_ITEMS} "
                                  "items")
        on_path.add(id(value))
        tasks.append((None, None, id(value)))
        tasks.extend((item, (crumb, key), depth + 1) for key, item in pairs
                     if isinstance(item, (Mapping, list)))


def _spell(crumb: _Crumb) -> str:
    """The key path a crumb stands for (``$objects[12].NS.objects``), its middle left out
    when long."""
    parts: list[str] = []
    while crumb is not None:
        crumb, key = crumb
        parts.append(key)
    parts.reverse()
    if len(parts) > 12:
        parts = [*parts[:6], f"…({len(parts) - 9} more)…", *parts[-3:]]
    return "".join(parts).lstrip(".") or "the document"
