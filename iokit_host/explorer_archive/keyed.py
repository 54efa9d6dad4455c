"""The object graph of an ``NSKeyedArchiver`` property list, read without trusting it (Foundation's
``NSKeyedUnarchiver``, which IORegistryExplorer's File > Open uses).

An archive is a property list ``{"$archiver": "NSKeyedArchiver", "$objects": [...], "$top":
{...}}``: every object is one item of ``$objects`` and refers to others by ``UID`` (an index
there); ``$objects[0]`` is ``"$null"``. Arrays are ``{"NS.objects": [UID...]}``, dictionaries
``{"NS.keys": [...], "NS.objects": [...]}``, strings plain or ``{"NS.string": ...}``, each with
a ``$class`` naming its class. An XML archive writes a ``UID`` as ``{"CF$UID": n}``, which is
read the same. Nothing here follows a reference recursively: callers walk the
graph on explicit stacks and meet cycles (a parent lists its children, each child its parent)
as repeated indexes. A reference out of range, or an object of the wrong shape, raises
:class:`ArchiveFault` naming the object and key, which the reader turns into a warning.
"""

from __future__ import annotations

import plistlib
from collections.abc import Mapping
from typing import Any

from iokit_host.kext.plistvalues import UnreadableValue

__all__ = ["NULL", "ArchiveFault", "KeyedArchive", "TooMany"]

#: ``$objects[0]``: what a nil reference points to.
NULL = "$null"


class ArchiveFault(Exception):
    """One object or key of the archive that cannot be read as what it should be."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


class TooMany(ArchiveFault):
    """A dictionary of more pairs than asked for: ``kept`` holds the first of them (read as
    the call that raised reads them)."""

    def __init__(self, where: str, count: int, kept: Any) -> None:
        super().__init__(where, f"{count} items")
        self.count = count
        self.kept = kept


class KeyedArchive:
    """The ``$objects`` of a loaded archive and typed access to them by reference.

    :raises ArchiveFault: from the constructor, when the document is not a keyed archive.
    """

    def __init__(self, document: Any) -> None:
        archiver = document.get("$archiver") if isinstance(document, Mapping) else None
        objects = document.get("$objects") if isinstance(document, Mapping) else None
        # An archive cut short loses what was written last: in binary, the archiver's name
        # and $top (NSKeyedArchiver numbers them last); in XML, $top (its keys are sorted, and
        # it follows $objects). The objects are what matters: the entries are found by their
        # class without $top.
        if archiver != "NSKeyedArchiver" and not (isinstance(archiver, UnreadableValue)
                                                  and isinstance(objects, list)):
            raise ArchiveFault("$archiver", "not an NSKeyedArchiver archive")
        if not isinstance(objects, list) or not objects:
            raise ArchiveFault("$objects", "missing or not an array")
        top = document.get("$top")
        if top is None or isinstance(top, UnreadableValue):
            top = {}  # its root is then missing, and said so where it is looked for
        if not isinstance(top, Mapping):
            raise ArchiveFault("$top", "missing or not a dictionary")
        self.objects: list[Any] = objects
        self.top: Mapping[str, Any] = top

    # -- references -------------------------------------------------------------------------
    def index(self, ref: Any, where: str) -> int:
        """The ``$objects`` index a ``UID`` refers to."""
        ref = _uid(ref)
        if not isinstance(ref, plistlib.UID):
            raise ArchiveFault(where, f"expected a reference, found {_kind(ref)}")
        if not 0 <= ref.data < len(self.objects):
            raise ArchiveFault(where, f"refers to object {ref.data}, past the "
                               f"{len(self.objects)} the archive holds")
        return ref.data

    def get(self, ref: Any, where: str) -> Any:
        """The object a ``UID`` refers to (a value stored inline is returned as it is)."""
        ref = _uid(ref)
        if not isinstance(ref, plistlib.UID):
            return ref
        return self.objects[self.index(ref, where)]

    def record(self, index: int) -> Mapping[str, Any]:
        """The dictionary of object ``index`` (an archived instance's coded keys)."""
        found = self.objects[index]
        if not isinstance(found, Mapping):
            raise ArchiveFault(f"$objects[{index}]", f"expected an archived object, found "
                               f"{_kind(found)}")
        return found

    def class_name(self, record: Mapping[str, Any], where: str) -> str | None:
        """The ``$classname`` of an archived object's class, or None when it has none."""
        if "$class" not in record:
            return None
        info = self.get(record["$class"], f"{where}.$class")
        name = info.get("$classname") if isinstance(info, Mapping) else None
        return name if isinstance(name, str) else None

    # -- values -----------------------------------------------------------------------------
    def string(self, ref: Any, where: str) -> str | None:
        """A string (``NSString``, plain or ``NS.string``); None for nil."""
        value = self.get(ref, where)
        if value == NULL or value is None:
            return None
        if isinstance(value, Mapping) and "NS.string" in value:
            value = value["NS.string"]
        if not isinstance(value, str):
            raise ArchiveFault(where, f"expected a string, found {_kind(value)}")
        return value

    def array(self, ref: Any, where: str) -> list[Any]:
        """The references of an ``NSArray`` (empty for nil)."""
        value = self.get(ref, where)
        if value == NULL:
            return []
        items = value.get("NS.objects") if isinstance(value, Mapping) else None
        if not isinstance(items, list):
            raise ArchiveFault(where, f"expected an array, found {_kind(value)}")
        return items

    def pairs(self, ref: Any, where: str, limit: int | None = None) -> list[tuple[Any, Any]]:
        """The ``(key reference, value reference)`` pairs of an ``NSDictionary``; with
        ``limit``, a dictionary of more pairs raises :class:`TooMany` holding its first."""
        value = self.get(ref, where)
        if value == NULL:
            return []
        keys = value.get("NS.keys") if isinstance(value, Mapping) else None
        items = value.get("NS.objects") if isinstance(value, Mapping) else None
        if not isinstance(keys, list) or not isinstance(items, list):
            raise ArchiveFault(where, f"expected a dictionary, found {_kind(value)}")
        if len(keys) != len(items):
            raise ArchiveFault(where, f"a dictionary of {len(keys)} keys and {len(items)} "
                               "values")
        if limit is not None and len(keys) > limit:
            raise TooMany(where, len(keys), list(zip(keys[:limit], items[:limit], strict=True)))
        return list(zip(keys, items, strict=True))

    def strings_by_key(self, ref: Any, where: str, limit: int | None = None) -> dict[str, Any]:
        """An ``NSDictionary`` keyed by strings, values left as references; with ``limit``,
        one of more pairs raises :class:`TooMany` holding the first read this way."""
        try:
            pairs = self.pairs(ref, where, limit)
        except TooMany as past:
            past.kept = self._by_string(past.kept, where)
            raise
        return self._by_string(pairs, where)

    def _by_string(self, pairs: list[tuple[Any, Any]], where: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for number, (key, value) in enumerate(pairs):
            name = self.string(key, f"{where}.NS.keys[{number}]")
            if name is not None:
                found[name] = value
        return found

    def scalar(self, record: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
        """An inline (or referenced) scalar field of ``kind``; None when absent or nil."""
        if key not in record:
            return None
        value = self.get(record[key], f"{where}.{key}")
        if value == NULL:
            return None
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ArchiveFault(f"{where}.{key}", f"expected a number, found {_kind(value)}")
        if not isinstance(value, kind):
            raise ArchiveFault(f"{where}.{key}", f"expected {kind.__name__}, found "
                               f"{_kind(value)}")
        return value


def _uid(ref: Any) -> Any:
    """``{"CF$UID": n}`` (an XML archive's reference) as the ``UID`` it stands for."""
    if isinstance(ref, Mapping) and len(ref) == 1:
        number = ref.get("CF$UID")
        if type(number) is int and number >= 0:
            return plistlib.UID(number)
    return ref


def _kind(value: Any) -> str:
    if isinstance(value, plistlib.UID):
        return "a reference"
    if isinstance(value, UnreadableValue):  # a damaged object of a binary plist
        return f"nothing readable: {value.reason}"
    return {dict: "a dictionary", list: "an array", str: "a string", int: "a number",
            bool: "a boolean", bytes: "data", float: "a number"}.get(type(value),
                                                                   type(value).__name__)
