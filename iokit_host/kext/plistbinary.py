"""A damaged binary property list read object by object, so one damaged object loses only
itself (CoreFoundation's ``CFBinaryPList.c`` creates each object of the table on its own,
``__CFBinaryPlistCreateObjectFiltered``, by its offset; it gives up on the whole file at the
first one it cannot create, and IORegistryExplorer then opens nothing).

An IORegistryExplorer archive holds tens of thousands of objects in one table, and ``ioreg -a
-l`` in binary thousands of entries: a byte changed in mail or on a disk makes one object
unreadable (a marker no plist has, a size past the end, a reference out of the table, a
string that does not decode), and ``plistlib`` refuses the whole file for it.
:func:`load_tolerant` reads such a file with ``plistlib``'s own reader (its
``_BinaryPlistParser``, the same on every Python this project supports), wrapping only its
step that reads one object: an object that cannot be read becomes an
:class:`~iokit_host.kext.plistvalues.UnreadableValue` naming the object and why, in its
place, and its container keeps the rest; the readers of entries then drop what used it, with
their usual warnings. What it reads is first held to the bounds every binary plist is
(:func:`~iokit_host.kext.plistshape.check_binary`: nesting, cycles, items as a tree, damaged
containers passed over), so a small file cannot stand for an enormous tree; and as the reader
recurses once per level, it stops at :data:`MAX_VALUE_DEPTH` itself too.

The trailer and the offset table are the file's index, its last bytes: a file cut short has
lost them. Its objects are then found one after another from byte 8, as CoreFoundation and
``plistlib`` write them, the index is made again from where each begins, and the file is read
through it as far as it goes, with one :class:`~.repair.Repair` saying so (the importer's
warning). A file whose index is unreadable and whose objects cannot be found that way is
refused (:class:`BinaryPlistError`), as every damaged file is when a Python without
``plistlib``'s reader runs (the reader is private to ``plistlib``).
"""

from __future__ import annotations

import io
import plistlib
import struct
from typing import Any

from iokit_sdk.values import MAX_VALUE_DEPTH

from iokit_host.kext.plistrepair import Repair
from iokit_host.kext.plistshape import check_binary
from iokit_host.kext.plistvalues import UnreadableValue

__all__ = ["CUT_SHORT", "BinaryPlistError", "array_count_disagrees", "array_from_bytes",
           "load_tolerant"]

CUT_SHORT = "ioreg-dump-binary-cut-short"
_CUT_SHORT_HINT = ("the file was cut short (a download or copy that stopped, a size limit): "
                   "attach the whole file")

_TRAILER = struct.Struct(">6xBBQQQ")
#: What reading one object raises in ``plistlib`` (InvalidFileException and
#: UnicodeDecodeError are ValueErrors): a marker, size, reference or encoding that is wrong.
_OBJECT_ERRORS = (ValueError, IndexError, KeyError, TypeError, OverflowError, struct.error,
                  MemoryError)
_Parser: Any = getattr(plistlib, "_BinaryPlistParser", None)


class BinaryPlistError(Exception):
    """The file's index (trailer, offset table, top object) cannot be read."""


def load_tolerant(data: bytes, repairs: list[Repair] | None = None, *,
                  cycles_damaged: bool = False) -> Any:
    """The value of a binary plist whose objects may be damaged (see the module doc): one
    whose containers all read is read by ``plistlib`` at full speed.

    :param repairs: when given, a file whose index cannot be read (cut short: its trailer
        and offset table were its last bytes) is read as far as it goes, its objects found one
        after another (:func:`_rebuilt`), and a :class:`Repair` added here.
    :param cycles_damaged: a container inside itself is damage, unreadable where it recurs
        (a whole document's), not a reason to refuse the file (a kext manifest's).
    :raises BinaryPlistError: the top object is unreadable, or the index is (and no object
        could be found without it, or ``repairs`` was not given).
    :raises PlistShapeError: what can be read nests too deep, contains itself or stands for
        too many items (:func:`~iokit_host.kext.plistshape.check_binary`).
    """
    if len(data) < 8 + _TRAILER.size:
        return _cut_short(data, BinaryPlistError("too short for a binary property list"),
                          repairs, cycles_damaged)
    try:
        return _read(data, cycles_damaged)
    except BinaryPlistError as error:
        return _cut_short(data, error, repairs, cycles_damaged)


def _read(data: bytes, cycles_damaged: bool) -> Any:
    # Held to the bounds of every plist read (nesting, cycles, items as a tree), damaged
    # objects passed over: a small file may stand for an enormous tree.
    intact = check_binary(data, cycles_damaged=cycles_damaged)
    offset_size, ref_size, count, top, table = _TRAILER.unpack_from(data, len(data) - 32)
    if not (offset_size and ref_size and top < count and table >= 8
            and table + count * offset_size <= len(data) - 32):
        # The check plistlib leaves to a list of ``count`` items, which a damaged count makes
        # as large as memory.
        raise BinaryPlistError("its trailer does not describe its object table")
    if intact or _Parser is None:  # plistlib itself (no call per object), unless it refuses
        try:
            return plistlib.loads(data, fmt=plistlib.FMT_BINARY)
        except (*_OBJECT_ERRORS, plistlib.InvalidFileException) as error:
            if _Parser is None:  # pragma: no cover - a Python whose plistlib has no reader
                raise BinaryPlistError(str(error) or type(error).__name__) from None
    value = _Tolerant().parse_bytes(data)
    if isinstance(value, UnreadableValue):
        raise BinaryPlistError(value.reason)
    return value


def array_from_bytes(data: bytes, key: str, first: Any) -> tuple[list[Any], int] | None:
    """The array the top dictionary's ``key`` refers to, read from its bytes when its own
    header (marker, count) cannot be: its references are what lies between where the offset
    table says it begins and where the next object begins (both writers put an array's
    references right after its header, and the next object right after them), after a
    header of one of the lengths a header has; the length taken is the one whose first
    reference is to ``first`` (an archive's ``$objects`` begins with ``"$null"``), so a
    guess that is not certain is not taken. Each item is read as :func:`load_tolerant` reads
    it (damaged, unreadable in its place). Returns the items and how many there are, or None
    when the file's index, its top dictionary or the array's place cannot be read."""
    place = _array_place(data, key)
    if place is None:
        return None
    parser, start, end = place
    ref_size, count = parser._ref_size, len(parser._object_offsets)
    for header in (1, 3, 4, 6, 10):  # a count in the marker, or after it in 1-8 bytes
        size = end - start - header
        if size < ref_size or size % ref_size:
            continue
        refs = [int.from_bytes(data[at:at + ref_size], "big")
                for at in range(start + header, end, ref_size)]
        try:
            found = refs[0] < count and parser._read_object(refs[0]) == first
        except _OBJECT_ERRORS:
            found = False
        if found:
            return [parser._read_object(ref) if ref < count
                    else UnreadableValue(f"object {ref} is past the file's {count}")
                    for ref in refs], len(refs)
    return None


def array_count_disagrees(data: bytes, key: str) -> int | None:
    """The count the header of the array the top dictionary's ``key`` refers to gives, when
    its references would not end where the next object begins (its count damaged, its
    marker intact: read as written, the array takes in the next objects' bytes as
    references, or leaves its own last ones out); None when they agree or the file's index,
    top dictionary or array cannot be read. Cheap: the objects are not read."""
    place = _array_place(data, key)
    if place is None:
        return None
    parser, start, end = place
    try:
        parser._fp.seek(start)
        marker = parser._fp.read(1)[0]
        if marker & 0xF0 != _ARRAY:
            return None
        claimed: int = parser._get_size(marker & 0x0F)
    except _OBJECT_ERRORS:
        return None
    return claimed if parser._fp.tell() + claimed * parser._ref_size != end else None


def _array_place(data: bytes, key: str) -> tuple[Any, int, int] | None:
    """A parser holding the file's index (no object read yet), and where the object the top
    dictionary's ``key`` refers to begins and where the next object begins (or the offset
    table); None when they cannot be read."""
    if _Parser is None or not data.startswith(b"bplist00") or len(data) < 8 + _TRAILER.size:
        return None
    offset_size, ref_size, count, top, table = _TRAILER.unpack_from(data, len(data) - 32)
    if not (offset_size and ref_size and top < count and table >= 8
            and table + count * offset_size <= len(data) - 32):
        return None
    parser = _Tolerant()
    try:
        parser.index(data)
        found = _top_value_ref(parser, top, key)
    except (BinaryPlistError, *_OBJECT_ERRORS):
        return None
    if found is None:
        return None
    offsets: tuple[int, ...] = parser._object_offsets
    start = offsets[found]
    return parser, start, min((at for at in offsets if start < at <= table), default=table)


def _top_value_ref(parser: Any, top: int, key: str) -> int | None:
    """The object number the top dictionary's ``key`` refers to (None: no such key)."""
    parser._fp.seek(parser._object_offsets[top])
    marker = parser._fp.read(1)[0]
    if marker & 0xF0 != _DICT:
        return None
    size = parser._get_size(marker & 0x0F)
    keys, values = parser._read_refs(size), parser._read_refs(size)
    for key_ref, value_ref in zip(keys, values, strict=True):
        if parser._read_object(key_ref) == key:
            found: int = value_ref
            return found if found < len(parser._object_offsets) else None
    return None


def _cut_short(data: bytes, error: BinaryPlistError, repairs: list[Repair] | None,
               cycles_damaged: bool) -> Any:
    """``data`` read through the index its objects give (:func:`_rebuilt`), noted in
    ``repairs``; ``error`` when that is not asked for or finds nothing."""
    rebuilt = _rebuilt(data) if repairs is not None and data.startswith(b"bplist0") else None
    if rebuilt is None:
        raise error
    whole, objects, end = rebuilt
    try:
        value = _read(whole, cycles_damaged)
    except BinaryPlistError:
        raise error from None
    assert repairs is not None
    repairs.append(Repair(
        CUT_SHORT, f"the binary plist has no readable index ({error}): {objects} objects were "
        f"found one after another, up to byte {end} of {len(data)}",
        "what they hold is kept, what the rest held is lost", _CUT_SHORT_HINT))
    return value


#: The kinds of object by their marker's high nibble (CFBinaryPList.c): those of a size the
#: marker gives (booleans; integers, reals, dates; UIDs), and those that hold a count of items
#: of this many bytes (data, ASCII, UTF-16; arrays and dictionaries, 0: the reference size).
_SIZED = frozenset({0x00, 0x10, 0x20, 0x30, 0x80})
_ITEMS = {0x40: 1, 0x50: 1, 0x60: 2, 0xA0: 0, 0xD0: 0}
#: How many of the first objects' offsets must follow one another where an offset table is
#: taken to begin (fewer when fewer objects were found).
_TABLE_PROOF = 4


def _rebuilt(data: bytes) -> tuple[bytes, int, int] | None:
    """A binary plist cut short (or whose index is damaged) with an index made from its
    objects: CoreFoundation and ``plistlib`` write the objects in reference order, one after
    another from byte 8, the top object first, so the object table is where each begins. Read
    with the reference size (1, 2, 4 or 8 bytes, the smallest that numbers every object)
    whose containers refer most to objects it found (written in reference order, a
    container's first items follow it; read with another size, its references are other
    bytes, numbers far past the objects), then that finds the most; None when none is
    found."""
    best: list[int] = []
    best_size = 0
    best_score = (-1, -1)
    for ref_size in (1, 2, 4, 8):
        offsets = _objects(data, ref_size)
        if not offsets or len(offsets) > 1 << (8 * ref_size):
            continue
        linked = _linked(data, offsets, ref_size)
        if linked is None:  # a container that holds itself: not how the file was written
            continue
        score = (linked, len(offsets))
        if score > best_score:
            best, best_size, best_score = offsets, ref_size, score
    if not best:
        return None
    end = best.pop()  # where the last whole object ends
    if not best:
        return None
    offset_size = 8 if end >= 1 << 32 else 4
    table = b"".join(offset.to_bytes(offset_size, "big") for offset in best)
    trailer = _TRAILER.pack(offset_size, best_size, len(best), 0, end)
    return data[:end] + table + trailer, len(best), end


def _objects(data: bytes, ref_size: int) -> list[int]:
    """Where each whole object begins, read one after another from byte 8 until one is cut
    short or is none, and (last) where the last whole one ends; empty when none is whole."""
    offsets: list[int] = []
    at = 8
    limit = len(data)
    while at < limit:
        if len(offsets) > 1 and _table_starts(data, at, offsets):
            break  # the objects end where the offset table begins
        end = _object_end(data, at, ref_size)
        if end is None or end > limit:
            break
        offsets.append(at)
        at = end
    return [*offsets, at] if offsets else []


def _linked(data: bytes, offsets: list[int], ref_size: int) -> int | None:
    """How many references of the containers among ``offsets`` (the last is an end) name
    one of those objects; None when a container refers to itself, which no writer writes
    (its references are then other bytes: the size is not the file's)."""
    found = len(offsets) - 1
    linked = 0
    for index, at in enumerate(offsets[:-1]):
        high = data[at] & 0xF0
        if high not in (0xA0, 0xD0):
            continue
        end = _object_end(data, at, ref_size)
        count = (data[at] & 0x0F) * (2 if high == 0xD0 else 1)
        start = end - count * ref_size if end is not None and data[at] & 0x0F != 0x0F \
            else None
        if start is None:  # a long container: its count is an object of its own
            continue
        for ref in range(start, start + count * ref_size, ref_size):
            named = int.from_bytes(data[ref:ref + ref_size], "big")
            if named == index:
                return None
            linked += named < found
    return linked


def _table_starts(data: bytes, at: int, offsets: list[int]) -> bool:
    """Whether the offset table begins at ``at``: the first objects' offsets (up to
    :data:`_TABLE_PROOF` of them) one after another, in one of the widths a table has (an
    object beginning with exactly those bytes is all but impossible)."""
    first = offsets[:_TABLE_PROOF]
    for width in (1, 2, 4, 8):
        if first[-1] < 1 << (8 * width) and data[at:at + len(first) * width] == b"".join(
                offset.to_bytes(width, "big") for offset in first):
            return True
    return False


def _object_end(data: bytes, at: int, ref_size: int) -> int | None:
    """Where the object beginning at ``at`` ends; None when no object begins with its byte."""
    token = data[at]
    high, low = token & 0xF0, token & 0x0F
    if high in _SIZED:
        if high == 0x00:  # false and true; null and fill, which no writer writes, are not
            return at + 1 if token in (0x08, 0x09) else None
        if high == 0x30:
            return at + 9 if token == 0x33 else None
        if high == 0x80:
            return at + 2 + low
        # An integer of 1 to 16 bytes, a real of 4 or 8.
        return at + 1 + (1 << low) if low <= 4 and (high == 0x10 or low in (2, 3)) else None
    width = _ITEMS.get(high)
    if width is None:
        return None
    count, start = low, at + 1
    if low == 0x0F:  # the count follows as an integer object
        if start >= len(data) or data[start] & 0xF0 != 0x10:
            return None
        size = 1 << (data[start] & 0x3)  # as plistlib reads a count's width
        count = int.from_bytes(data[start + 1:start + 1 + size], "big")
        start += 1 + size
    items = ref_size * (2 if high == 0xD0 else 1) if width == 0 else width
    return start + count * items


class _Tolerant(_Parser or object):  # type: ignore[misc]
    """``plistlib``'s binary reader with its one-object step made tolerant."""

    def __init__(self) -> None:
        super().__init__(dict)
        self._depth = 0
        # The objects being read, outer first: one referred to again inside itself is
        # unreadable there (plistlib would build a list that holds itself).
        self._reading: set[int] = set()

    def index(self, data: bytes) -> None:
        """Take the file's index (trailer, offset table) as ``parse`` does, reading no
        object: a reader of one object or a few then costs only those."""
        self._fp = io.BytesIO(data)
        offset_size, self._ref_size, count, _, table = _TRAILER.unpack_from(data, len(data) - 32)
        self._fp.seek(table)
        try:
            self._object_offsets = self._read_ints(count, offset_size)
        except _OBJECT_ERRORS as error:
            raise BinaryPlistError(str(error) or "its offset table cannot be read") from None
        self._objects = [_UNDEFINED] * count

    def parse_bytes(self, data: bytes) -> Any:
        try:
            return self.parse(io.BytesIO(data))
        except _OBJECT_ERRORS as error:  # the offset table itself: nothing can be placed
            raise BinaryPlistError(str(error) or "its offset table cannot be read") from None

    def _read_object(self, ref: int) -> Any:
        if self._depth >= MAX_VALUE_DEPTH:
            return UnreadableValue(f"object {ref} is nested deeper than {MAX_VALUE_DEPTH}")
        if ref in self._reading:
            return UnreadableValue(f"object {ref} contains itself")
        self._depth += 1
        self._reading.add(ref)
        try:
            marker = self._marker(ref)
            if marker == _FILL:  # plistlib reads it as b''; CF creates no object from it
                raise ValueError("a fill byte, no object")
            if marker is not None and marker & 0xF0 == _DICT:
                return self._read_dict(ref, marker)
            return super()._read_object(ref)
        except _OBJECT_ERRORS as error:
            unreadable = UnreadableValue(f"object {ref} cannot be read ({_reason(error)})")
            if type(ref) is int and 0 <= ref < len(self._objects):
                self._objects[ref] = unreadable  # each place that refers to it says so
            return unreadable
        finally:
            self._depth -= 1
            self._reading.discard(ref)


    def _marker(self, ref: int) -> int | None:
        """The object's first byte, the file positioned after it; None once it was read."""
        if self._objects[ref] is not _UNDEFINED:
            return None
        self._fp.seek(self._object_offsets[ref])
        marker: int = self._fp.read(1)[0]
        return marker

    def _read_dict(self, ref: int, marker: int) -> dict[Any, Any]:
        """``plistlib``'s dictionary step, except that a key that is an array or a dictionary
        (unhashable: plistlib refuses the whole file for it) is an unreadable key in its
        place, so the reader drops that pair alone, as it drops an integer key."""
        size = self._get_size(marker & 0x0F)
        key_refs, value_refs = self._read_refs(size), self._read_refs(size)
        result: dict[Any, Any] = self._dict_type()
        self._objects[ref] = result
        for key_ref, value_ref in zip(key_refs, value_refs, strict=True):
            key = self._read_object(key_ref)
            if isinstance(key, list | dict):
                key = UnreadableValue(f"a key is {'an array' if type(key) is list else 'a dict'}")
            result[key] = self._read_object(value_ref)
        return result


_FILL, _ARRAY, _DICT = 0x0F, 0xA0, 0xD0
_UNDEFINED = getattr(plistlib, "_undefined", object())


def _reason(error: BaseException) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"a string that is not {error.encoding}"
    if isinstance(error, IndexError | struct.error):
        return "it runs past the end of the file"
    if isinstance(error, OverflowError):  # a date, a size or a count past what fits
        return "a value out of range"
    text = str(error).strip()
    if text == "Invalid file":  # plistlib's one word for a marker no plist has
        return "no plist object begins with its byte"
    return text if text and len(text) <= 80 else type(error).__name__
