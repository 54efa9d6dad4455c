"""The shape of a property list: how deep it nests, whether it contains itself, how large it is
as a tree, and whether its integers fit in 64 bits (OSUnserializeXML and OSUnserializeBinary
refuse what the kernel cannot hold: deep or cyclic containers, out-of-range numbers).

Checked where a plist is read, before anything walks it: a binary plist can make an array that
contains itself, or share one array so many times that a small file stands for an enormous
tree, and ``plistlib``'s binary reader recurses once per level. The one nesting limit is
``iokit_sdk.values.MAX_VALUE_DEPTH``. :func:`check_binary` reads a binary plist's object
table itself, without recursion, so even a plist too deep for ``plistlib`` is refused with
the key path and the depth.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from iokit_sdk.values import MAX_VALUE_DEPTH, MAX_VALUE_ITEMS, PropertyShapeError, check_shape

__all__ = ["PlistShapeError", "check_binary", "check_tree"]

_INT64_MIN = -(1 << 63)
_UINT64_END = 1 << 64


class PlistShapeError(ValueError):
    """A plist the kernel would refuse for its shape: ``key`` is the path to the place
    (``IOKitPersonalities.Foo.Deep[0][0]``), ``reason`` what is wrong there, ``reference``
    the kebab-case kind (``plist-value-too-deep``, ``plist-value-cyclic``, ...)."""

    def __init__(self, reference: str, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}" if key else reason)
        self.reference = reference
        self.key = key
        self.reason = reason


def check_tree(value: object) -> None:
    """Refuse a parsed plist that nests too deep, contains itself, is too large as a tree, or
    holds an integer outside 64 bits. Iterative."""
    try:
        check_shape(value, "")
    except PropertyShapeError as error:
        raise _shape_error(error.path.lstrip("."), error.reason) from None
    # Integers: one cheap pass over the values; the path is spelt out only for a bad one.
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, int) and not _INT64_MIN <= item < _UINT64_END:
            check_integer(item, _path_to(value, item))


def _path_to(root: object, target: object) -> str:
    """The key path from ``root`` to ``target`` (already known to be a finite tree)."""
    stack: list[tuple[object, str]] = [(root, "")]
    while stack:
        item, where = stack.pop()
        if item is target:
            return where
        if isinstance(item, Mapping):
            stack.extend((child, f"{where}.{key}" if where else str(key))
                         for key, child in item.items())
        elif isinstance(item, (list, tuple)):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
    return ""


#: Widths past this are :data:`~iokit_host.kext.plistvalues.FAR_PAST_64_BITS`, whose digits
#: were never converted: no true width to give.
_FAR_BITS = 128


def check_integer(value: int, key: str) -> None:
    """Refuse an ``<integer>`` that fits neither a signed nor an unsigned 64-bit number."""
    if not _INT64_MIN <= value < _UINT64_END:
        reason = ("an integer far past 64 bits" if value.bit_length() > _FAR_BITS
                  else f"a {value.bit_length() + (value < 0)}-bit integer does not fit in 64 bits")
        raise PlistShapeError("plist-integer-out-of-range", key, reason)


def _shape_error(key: str, reason: str) -> PlistShapeError:
    if "cycle" in reason:
        return PlistShapeError("plist-value-cyclic", key, reason)
    if "items" in reason:
        return PlistShapeError("plist-value-too-large", key, reason)
    return PlistShapeError("plist-value-too-deep", key, reason)


# -- binary plists ---------------------------------------------------------------------------

def check_binary(data: bytes, items: int | None = None, *, cycles_damaged: bool = False
                 ) -> bool:
    """Refuse a binary plist whose containers nest too deep, contain themselves or expand to
    more than ``items`` items as a tree (default ``MAX_VALUE_ITEMS``, one property value's;
    a whole document, such as an archive of a registry, may hold more). True when every
    container could be read; False when some are damaged (each is passed over, and the rest
    checked: a reader that reads around damage builds no more than was checked) or the file
    has no readable index (nothing checked: its reader must make one, and check that).

    :param cycles_damaged: a container inside itself is damage, passed over as an unreadable
        one is (a whole document's reader drops it alone), not a reason to refuse the file
        (as a kext's manifest is refused, as the kernel refuses it).
    """
    limit = MAX_VALUE_ITEMS if items is None else items
    try:
        table = _ObjectTable(data)
    except (IndexError, ValueError, struct.error):
        return False
    damaged = False
    # Each stack item: an object ref, its depth, and a crumb (parent crumb, key, parent ref)
    # to spell the way there should it be refused.
    stack: list[tuple[int, int, _Crumb | None]] = [(table.top, 0, None)]
    count = 0
    while stack:
        ref, depth, crumb = stack.pop()
        try:
            children = table.children(ref)
        except (IndexError, ValueError, struct.error):
            damaged = True  # an unreadable container holds nothing that is read
            continue
        if children is None:
            continue
        if cycles_damaged and _inside_itself(ref, crumb):
            damaged = True  # the reader leaves it unreadable where it recurs
            continue
        if depth >= MAX_VALUE_DEPTH:
            raise _binary_problem(_trail(crumb), ref, depth + 1)
        count += len(children)
        if count > limit:
            raise PlistShapeError("plist-value-too-large", _spell(_trail(crumb)),
                                  f"holds more than {limit} items")
        stack.extend((child, depth + 1, (crumb, key, ref)) for key, child in children)
    return not damaged


_Crumb = tuple[object, str, int]


def _inside_itself(ref: int, crumb: _Crumb | None) -> bool:
    """Whether ``ref`` is one of the containers on the way down to it (at most the nesting
    limit of them: the walk stops there)."""
    while crumb is not None:
        parent, _, above = crumb
        if above == ref:
            return True
        crumb = parent  # type: ignore[assignment]
    return False


def _trail(crumb: _Crumb | None) -> list[tuple[str, int]]:
    """``(key, parent ref)`` from the top object down to ``crumb``."""
    trail: list[tuple[str, int]] = []
    while crumb is not None:
        parent, key, ref = crumb
        trail.append((key, ref))
        crumb = parent  # type: ignore[assignment]
    trail.reverse()
    return trail


def _binary_problem(trail: list[tuple[str, int]], ref: int, depth: int) -> PlistShapeError:
    refs = [parent for _, parent in trail] + [ref]
    seen: set[int] = set()
    for index, current in enumerate(refs):
        if current in seen:
            return PlistShapeError("plist-value-cyclic", _spell(trail[:index]),
                                   "contains itself (a cycle)")
        seen.add(current)
    return PlistShapeError("plist-value-too-deep", _spell(trail),
                           f"nested {depth} deep; the limit is {MAX_VALUE_DEPTH}")


def _spell(trail: list[tuple[str, int]]) -> str:
    parts = [key for key, _ in trail]
    if len(parts) > 12:
        parts = [*parts[:6], f"…({len(parts) - 9} more)…", *parts[-3:]]
    return "".join(parts).lstrip(".")


class _ObjectTable:
    """The object table of a ``bplist00`` file (CFBinaryPList.c), read for containers only."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 40:
            raise ValueError("too short")
        self.data = data
        (self.offset_size, self.ref_size, count, self.top,
         self.table) = struct.unpack(">6xBBQQQ", data[-32:])
        if not self.offset_size or not self.ref_size or \
                self.table + count * self.offset_size > len(data) or self.top >= count:
            raise ValueError("bad trailer")
        self.count = count
        # ref -> its children (None: no container), or why it cannot be read
        self._read: dict[int, tuple[list[tuple[str, int]] | None, str | None]] = {}

    def children(self, ref: int) -> list[tuple[str, int]] | None:
        """``(key, child ref)`` of an array or dictionary object; None for anything else.
        Each container is read once: the walk meets one as often as it is referred to (a
        list of a hundred entries that 700 parents name was read 70,000 times)."""
        found = self._read.get(ref)
        if found is None:
            try:
                found = self._children(ref), None
            except (IndexError, ValueError, struct.error) as error:
                found = None, str(error)
            self._read[ref] = found
        children, unreadable = found
        if unreadable is not None:
            raise ValueError(unreadable)  # a new one each time: a raised one keeps frames
        return children

    def _children(self, ref: int) -> list[tuple[str, int]] | None:
        if ref >= self.count:
            raise ValueError("bad ref")
        offset = self._int(self.table + ref * self.offset_size, self.offset_size)
        token = self.data[offset]
        kind, size = token & 0xF0, token & 0x0F
        if token == 0x0F:  # fill: no object (plistlib would make it b''), so damage
            raise ValueError("a fill byte")
        if kind not in (0xA0, 0xD0):
            return None
        count, start = self._size(size, offset + 1)
        refs = count * (2 if kind == 0xD0 else 1)
        if start + refs * self.ref_size > len(self.data):
            raise ValueError("truncated")
        values = [self._int(start + i * self.ref_size, self.ref_size) for i in range(refs)]
        if kind == 0xA0:
            return [(f"[{index}]", child) for index, child in enumerate(values)]
        return [(f".{self._key_or_ref(key)}", child) for key, child in zip(values[:count],
                                                                             values[count:])]

    def _key_or_ref(self, ref: int) -> str:
        """A key's text for a path; its ref when the key object is damaged (the value under
        it is still read, so still checked)."""
        try:
            return self._key(ref)
        except (IndexError, ValueError):
            return f"<key #{ref}>"

    def _size(self, size: int, position: int) -> tuple[int, int]:
        if size != 0x0F:
            return size, position
        width = 1 << (self.data[position] & 0x3)
        return self._int(position + 1, width), position + 1 + width

    def _int(self, position: int, width: int) -> int:
        chunk = self.data[position:position + width]
        if len(chunk) != width:
            raise ValueError("truncated")
        return int.from_bytes(chunk, "big")

    def _key(self, ref: int) -> str:
        offset = self._int(self.table + ref * self.offset_size, self.offset_size)
        token = self.data[offset]
        kind, size = token & 0xF0, token & 0x0F
        if kind in (0x50, 0x60):
            length, start = self._size(size, offset + 1)
            if kind == 0x50:
                return self.data[start:start + length].decode("ascii", "replace")
            return self.data[start:start + 2 * length].decode("utf-16-be", "replace")
        return f"<key #{ref}>"
