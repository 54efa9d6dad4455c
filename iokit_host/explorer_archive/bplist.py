"""A damaged binary property list read object by object, so one damaged object loses only
itself (CoreFoundation's ``CFBinaryPList.c`` creates each object of the table on its own,
``__CFBinaryPlistCreateObjectFiltered``, by its offset; it gives up on the whole file at the
first one it cannot create, and IORegistryExplorer then opens nothing).

An IORegistryExplorer archive holds tens of thousands of objects in one table, and ``ioreg -a
-l`` in binary thousands of entries: a byte changed in mail or on a disk makes one object
unreadable (a marker no plist has, a size past the end, a reference out of the table, a
string that does not decode), and ``plistlib`` refuses the whole file for it.
:func:`load_tolerant` reads such a file with ``plistlib``'s own reader (its
``_BinaryPlistParser``, the same on Python 3.10 to 3.13), wrapping only its step that reads
one object: an object that cannot be read becomes an
:class:`~iokit_host.ioreg_import.cfvalues.UnreadableValue` naming the object and why, in its
place, and its container keeps the rest; the readers of entries then drop what used it, with
their usual warnings. Objects are read at most :data:`MAX_VALUE_DEPTH` deep (deeper ones are
unreadable too): the reader recurses once per level, and this bounds it.

The trailer and the offset table are the file's index: when they are damaged, nothing can be
placed and the file is refused (:class:`BinaryPlistError`), as it is when a Python without
that reader runs (it is private to ``plistlib``).
"""

from __future__ import annotations

import io
import plistlib
import struct
from typing import Any

from iokit_sdk.values import MAX_VALUE_DEPTH

from iokit_host.ioreg_import.cfvalues import UnreadableValue

__all__ = ["BinaryPlistError", "load_tolerant"]

_TRAILER = struct.Struct(">6xBBQQQ")
#: What reading one object raises in ``plistlib`` (InvalidFileException and
#: UnicodeDecodeError are ValueErrors): a marker, size, reference or encoding that is wrong.
_OBJECT_ERRORS = (ValueError, IndexError, KeyError, TypeError, OverflowError, struct.error,
                  MemoryError)
_Parser: Any = getattr(plistlib, "_BinaryPlistParser", None)


class BinaryPlistError(Exception):
    """The file's index (trailer, offset table, top object) cannot be read."""


def load_tolerant(data: bytes) -> Any:
    """The value of a binary plist whose objects may be damaged (see the module doc).

    :raises BinaryPlistError: the trailer, the offset table or the top object is unreadable.
    """
    if len(data) < 8 + _TRAILER.size:
        raise BinaryPlistError("too short for a binary property list")
    offset_size, ref_size, count, top, table = _TRAILER.unpack_from(data, len(data) - 32)
    if not (offset_size and ref_size and top < count and table >= 8
            and table + count * offset_size <= len(data) - 32):
        # The check plistlib leaves to a list of ``count`` items, which a damaged count makes
        # as large as memory.
        raise BinaryPlistError("its trailer does not describe its object table")
    if _Parser is None:  # pragma: no cover - a Python whose plistlib has no such reader
        try:
            return plistlib.loads(data, fmt=plistlib.FMT_BINARY)
        except (*_OBJECT_ERRORS, plistlib.InvalidFileException) as error:
            raise BinaryPlistError(str(error) or type(error).__name__) from None
    value = _Tolerant().parse_bytes(data)
    if isinstance(value, UnreadableValue):
        raise BinaryPlistError(value.reason)
    return value


class _Tolerant(_Parser or object):  # type: ignore[misc]
    """``plistlib``'s binary reader with its one-object step made tolerant."""

    def __init__(self) -> None:
        super().__init__(dict)
        self._depth = 0

    def parse_bytes(self, data: bytes) -> Any:
        try:
            return self.parse(io.BytesIO(data))
        except _OBJECT_ERRORS as error:  # the offset table itself: nothing can be placed
            raise BinaryPlistError(str(error) or "its offset table cannot be read") from None

    def _read_object(self, ref: int) -> Any:
        if self._depth >= MAX_VALUE_DEPTH:
            return UnreadableValue(f"object {ref} is nested deeper than {MAX_VALUE_DEPTH}")
        self._depth += 1
        try:
            return super()._read_object(ref)
        except _OBJECT_ERRORS as error:
            unreadable = UnreadableValue(f"object {ref} cannot be read ({_reason(error)})")
            if type(ref) is int and 0 <= ref < len(self._objects):
                self._objects[ref] = unreadable  # each place that refers to it says so
            return unreadable
        finally:
            self._depth -= 1


def _reason(error: BaseException) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"a string that is not {error.encoding}"
    if isinstance(error, IndexError | struct.error):
        return "it runs past the end of the file"
    text = str(error).strip()
    return text if text and len(text) <= 80 else type(error).__name__
