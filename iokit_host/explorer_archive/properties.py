"""Entries' property tables, read once per archive (``IORegistryEntryCreateCFProperties`` as
IORegistryExplorer saved it: an XML property list in an ``NSData``, one per entry).

A binary archive stores equal data once: every entry whose table is the same bytes names the
same object (two empty tables do, in real archives), and a hostile one can make thousands of
entries name one large table. :class:`PropertyTables` decodes each table once, by its bytes,
and holds the whole archive to :data:`MAX_PROPERTY_ITEMS` items: every entry gets its own copy
(entries' properties are theirs to change once booted), and each copy is charged, so a table
that N entries share costs at most the budget, not N decodings. Real archives hold about
30,000 items in all; an entry past the budget loses its
properties (``ioreg-archive-properties-too-large``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iokit_sdk.plain import copied

from iokit_host.explorer_archive.damage import (
    BAD_PROPERTIES,
    PROPERTIES_TOO_LARGE,
    ArchiveDamage,
)
from iokit_host.explorer_archive.plistdata import PlistUnreadable, load_plist
from iokit_host.ioreg_import.cfvalues import CFValueError, check_key, typed_value

__all__ = ["MAX_PROPERTY_BYTES", "MAX_PROPERTY_ITEMS", "PropertyTables"]

#: Most property items (keys, and members of arrays and dictionaries) one archive's entries
#: hold in all: real ones hold ~30,000; this leaves room for 50,000 entries of 80 each.
MAX_PROPERTY_ITEMS = 1 << 22
#: Most bytes of strings and data one archive's entries hold in all, charged as the items
#: are: real ones hold under 500 KB. (A table of one string of a megabyte, that a thousand
#: entries share, held them to four items each, and its machine took a gigabyte to write.)
MAX_PROPERTY_BYTES = 1 << 25

#: A decoded table: its typed properties, its items, the bytes of its strings and data, and
#: (path, reason) of each value dropped.
_Table = tuple[dict[str, Any], int, int, list[tuple[str, str]]]


class PropertyTables:
    """The property tables of one archive's entries (see the module doc)."""

    __slots__ = ("_decoded", "_spent", "_spent_bytes", "damage", "decodings")

    def __init__(self, damage: ArchiveDamage) -> None:
        self.damage = damage
        # Bytes -> the typed table, its items and the values dropped from it; or why it
        # cannot be read. Its damage is noted for each entry that names it.
        self._decoded: dict[bytes, _Table | str] = {}
        self._spent = self._spent_bytes = 0
        #: How many tables were decoded (each distinct table once).
        self.decodings = 0

    def table(self, blob: bytes, key: str) -> dict[str, Any]:
        """The typed properties of the entry whose table is ``blob`` (at ``key``): its own
        copy; empty when the table cannot be read or the archive's budget is spent."""
        if blob not in self._decoded:
            self._decoded[blob] = self._decode(blob)
        found = self._decoded[blob]
        if isinstance(found, str):
            self.damage.note(BAD_PROPERTIES, key, found)
            return {}
        properties, items, size, faults = found
        for path, reason in faults:
            self.damage.note(BAD_PROPERTIES, f"{key}.{path}", reason)
        if self._spent + items > MAX_PROPERTY_ITEMS:
            self.damage.note(PROPERTIES_TOO_LARGE, key, f"the entries' properties hold more than "
                              f"{MAX_PROPERTY_ITEMS} items in all")
            return {}
        if self._spent_bytes + size > MAX_PROPERTY_BYTES:
            self.damage.note(PROPERTIES_TOO_LARGE, key, f"the entries' properties hold more than "
                              f"{MAX_PROPERTY_BYTES} bytes of strings and data in all")
            return {}
        self._spent += items
        self._spent_bytes += size
        own: dict[str, Any] = copied(properties)  # each entry's own, as read out of it
        return own

    def _decode(self, blob: bytes) -> _Table | str:
        self.decodings += 1
        try:
            table = load_plist(blob, values=True)
        except PlistUnreadable as error:
            return f"not a property list ({error.reason})"
        if not isinstance(table, dict):
            return "the property list is not a dictionary"
        properties: dict[str, Any] = {}
        faults: list[tuple[str, str]] = []
        for name, value in table.items():
            try:
                check_key(name, "a property key")
                properties[name] = typed_value(value, name)
            except CFValueError as error:
                faults.append((error.path, error.reason))
        return (properties, *_items(properties), faults)


def _items(value: Any) -> tuple[int, int]:
    """Keys and members of the containers in ``value``, the table itself counted as one; and
    the length of its strings and data."""
    count, size, stack = 1, 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            count += len(item)
            stack.extend(item)
        elif isinstance(item, str | bytes):
            size += len(item)
    return count, size
