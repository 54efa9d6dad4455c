"""The kernel collection's file format: discovery records to JSON and back, every field checked.

kmutil refuses a kernel collection whose header or layout it does not recognise; here the
collection is a cache, so a file that does not have exactly the expected shape (any field of
the wrong type, a missing or extra key, another format number, a malformed plist value) is
refused with a :class:`ShapeError` saying where, and the caller rebuilds it. Nothing read from
the file is trusted before it is checked: JSON syntax alone says nothing of types.

Layout (format :data:`FORMAT`)::

    {"format": 2,
     "key": {"executable": str, "prefix": str, "path": [str], "defines": {str: str}},
     "watch": [stamp],                      # path entries and the host's own modules
     "distributions": [{"name": str, "version": str, "path": str, "stamps": [stamp],
                        "diagnostics": [diagnostic], "kexts": [kext]}]}
    stamp = [file: str, mtime_ns: int, size: int, ctime_ns: int, digest: str | null]
    kext = {"entry_point": str, "package": str, "manifest": str | null,
            "bundle": bundle | null, "diagnostics": [diagnostic]}

A bundle's ``personalities`` and ``info`` are plist values in :mod:`~iokit_host.kext.plistjson`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kext import plistjson
from iokit_host.kext.bundle import DistributionInfo, KextBundle
from iokit_host.kext.discovery import DistributionRecord, KextRecord
from iokit_host.kext.stamps import FileStamp

__all__ = ["FORMAT", "Collection", "ShapeError", "dump", "read"]


class _Layout:
    """One object of the layout: its keys in the writer's order, and each one's JSON types."""

    def __init__(self, types: dict[str, frozenset[type]]) -> None:
        self.types = types
        self.order = tuple(types)
        self.allowed = tuple(types.values())


FORMAT = 2
_STR, _INT, _BOOL = frozenset({str}), frozenset({int}), frozenset({bool})
_LIST, _DICT = frozenset({list}), frozenset({dict})
_OPTIONAL_STR, _OPTIONAL_INT = _STR | {type(None)}, _INT | {type(None)}
#: Every object of the layout: its keys and the JSON types each may have.
_TOP = _Layout({"format": _INT, "key": _DICT, "watch": _LIST, "distributions": _LIST})
_KEY = _Layout({"executable": _STR, "prefix": _STR, "path": _LIST, "defines": _DICT})
_RECORD = _Layout({"name": _STR, "version": _STR, "path": _STR, "stamps": _LIST,
                   "diagnostics": _LIST, "kexts": _LIST})
_KEXT = _Layout({"entry_point": _STR, "package": _STR, "manifest": _OPTIONAL_STR,
                 "bundle": _DICT | {type(None)}, "diagnostics": _LIST})
_BUNDLE = _Layout({
    "bundle_id": _STR, "version": _STR, "version_value": _INT,
    "compatible_version": _OPTIONAL_STR, "compatible_version_value": _OPTIONAL_INT,
    "package": _OPTIONAL_STR, "has_executable": _BOOL, "required": _OPTIONAL_STR,
    "is_interface": _BOOL, "is_kernel_resource": _BOOL, "is_dext": _BOOL,
    "source": _OPTIONAL_STR, "libraries": _DICT, "personalities": _DICT, "info": _DICT})
_BUNDLE_SCALARS = tuple(name for name in _BUNDLE.order
                        if name not in ("libraries", "personalities", "info"))
_DIAGNOSTIC = _Layout({"reference": _STR, "severity": _STR, "message": _STR, "file": _STR,
                       "key": _STR, "hint": _STR, "subject": _STR})
_DIAGNOSTIC_REQUIRED = frozenset({"reference", "severity", "message"})
_OPTIONAL = ("file", "key", "hint", "subject")
_SEVERITIES = frozenset(s.value for s in Severity)
_T = TypeVar("_T")


class ShapeError(ValueError):
    """The document is not a kernel collection of this format: ``where`` is the path to the
    first field that is missing, extra or of the wrong type, ``reason`` what is wrong."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}" if where else reason)
        self.where = where
        self.reason = reason

    def within(self, outer: str) -> ShapeError:
        """The same error seen from the containing field ``outer``."""
        joiner = "" if not self.where or self.where.startswith("[") else "."
        return ShapeError(f"{outer}{joiner}{self.where}", self.reason)


@dataclass(frozen=True, slots=True)
class Collection:
    """A checked kernel collection: what keys it, what it watches, what it holds."""

    key: dict[str, Any]
    watch: tuple[FileStamp, ...]
    records: tuple[DistributionRecord, ...]


# -- writing ---------------------------------------------------------------------------------
def dump(key: Mapping[str, Any], watch: Sequence[FileStamp],
         records: Sequence[DistributionRecord]) -> dict[str, Any]:
    """The JSON-ready document. :raises plistjson.ValueShapeError: for an unstorable value."""
    return {"format": FORMAT, "key": dict(key), "watch": [_stamp_out(s) for s in watch],
            "distributions": [_record_out(r) for r in records]}


def _stamp_out(stamp: FileStamp) -> list[Any]:
    return [stamp.file, stamp.mtime_ns, stamp.size, stamp.ctime_ns, stamp.digest]


def _record_out(record: DistributionRecord) -> dict[str, Any]:
    info = record.info
    return {"name": info.name, "version": info.version, "path": info.path,
            "stamps": [_stamp_out(s) for s in record.stamps],
            "diagnostics": [d.to_json() for d in record.diagnostics],
            "kexts": [_kext_out(k) for k in record.kexts]}


def _kext_out(kext: KextRecord) -> dict[str, Any]:
    return {"entry_point": kext.entry_point, "package": kext.package,
            "manifest": kext.manifest,
            "bundle": None if kext.bundle is None else _bundle_out(kext.bundle),
            "diagnostics": [d.to_json() for d in kext.diagnostics]}


def _bundle_out(bundle: KextBundle) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(bundle, name) for name in _BUNDLE_SCALARS}
    out["libraries"] = dict(bundle.libraries)
    # The personalities are stored once, fixed up; the raw info keeps everything else.
    out["personalities"] = plistjson.encode(bundle.personalities)
    out["info"] = plistjson.encode({k: v for k, v in bundle.info.items()
                                    if not k.startswith("IOKitPersonalities")})
    return out


# -- reading ---------------------------------------------------------------------------------
def read(document: Any) -> Collection:
    """Check and convert a document from ``json.loads`` (it is changed in place).

    :raises ShapeError: naming the first field that is missing, extra or of the wrong type.
    """
    if type(document) is not dict:
        raise ShapeError("", f"the document is {_show(document)}, not an object")
    if document.get("format") != FORMAT:  # another version's layout: nothing else is read
        raise ShapeError("format", f"{_show(document.get('format'))}; this host reads format "
                                   f"{FORMAT} (another iokit-host wrote it?)")
    top = _fields(document, _TOP)
    key = _within("key", _fields, top["key"], _KEY)
    if not all(type(entry) is str for entry in key["path"]):
        raise ShapeError("key.path", "expected strings only")
    _within("key.defines", _string_map, key["defines"])
    watch = _each(top["watch"], "watch", _stamp_in)
    return Collection(key, watch, _each(top["distributions"], "distributions", _record_in))


def _record_in(data: Any) -> DistributionRecord:
    record = _fields(data, _RECORD)
    info = DistributionInfo(record["name"], record["version"], record["path"])
    return DistributionRecord(info, _each(record["stamps"], "stamps", _stamp_in),
                              _each(record["kexts"], "kexts", _kext_in, info),
                              _each(record["diagnostics"], "diagnostics", _diagnostic_in))


def _stamp_in(data: Any) -> FileStamp:
    if (type(data) is not list or len(data) != 5 or type(data[0]) is not str
            or not (type(data[1]) is type(data[2]) is type(data[3]) is int)
            or not (data[4] is None or type(data[4]) is str)):
        raise ShapeError("", "not [file, mtime_ns, size, ctime_ns, digest or null]")
    if "\0" in data[0]:  # no file has one: os.stat refuses it with ValueError
        raise ShapeError("", "a file name holds a NUL character")
    return FileStamp(*data)


def _kext_in(data: Any, info: DistributionInfo) -> KextRecord:
    kext = _fields(data, _KEXT)
    diagnostics = _each(kext["diagnostics"], "diagnostics", _diagnostic_in)
    raw = kext["bundle"]
    try:
        bundle = None if raw is None else _bundle_in(raw, info, diagnostics)
    except ShapeError as error:
        raise error.within("bundle") from None
    return KextRecord(kext["entry_point"], kext["package"], kext["manifest"], bundle,
                      diagnostics)


def _bundle_in(data: Any, info: DistributionInfo,
               diagnostics: tuple[Diagnostic, ...]) -> KextBundle:
    raw = _fields(data, _BUNDLE)
    libraries = raw["libraries"]
    if not _STR.issuperset(map(type, libraries.values())):
        raise ShapeError("libraries", "expected an object of strings only")
    personalities = _plist(raw["personalities"], "personalities")
    if not _DICT.issuperset(map(type, personalities.values())):
        raise ShapeError("personalities", "a personality is not a dictionary")
    return KextBundle(**{name: raw[name] for name in _BUNDLE_SCALARS},
                      libraries=MappingProxyType(libraries),
                      personalities=MappingProxyType(personalities),
                      info=MappingProxyType(_plist(raw["info"], "info")),
                      distribution=info, diagnostics=diagnostics)


def _plist(data: dict[str, Any], where: str) -> dict[str, Any]:
    try:
        decoded = plistjson.decode(data, reals=False)  # the manifest reader drops <real>s
    except plistjson.ValueShapeError as error:
        raise ShapeError(where, str(error)) from None
    if type(decoded) is not dict:  # {"$data": ...} at the top is not a dictionary
        raise ShapeError(where, f"expected a dictionary, found {_show(decoded)}")
    return decoded


def _diagnostic_in(data: Any) -> Diagnostic:
    raw = _fields(data, _DIAGNOSTIC, required=_DIAGNOSTIC_REQUIRED)
    if raw["severity"] not in _SEVERITIES:
        raise ShapeError("severity", f"{raw['severity']!r} is not a severity")
    return Diagnostic(raw["reference"], raw["message"], severity=Severity(raw["severity"]),
                      **{name: raw[name] for name in _OPTIONAL if name in raw})


# -- field checks ----------------------------------------------------------------------------
def _fields(data: Any, table: _Layout, *,
            required: frozenset[str] | None = None) -> dict[str, Any]:
    """``data`` as an object with the keys of ``table`` (all, or ``required`` and any of the
    rest), each of one of the JSON types the table allows."""
    if type(data) is not dict:
        raise ShapeError("", f"expected an object, found {_show(data)}")
    # What the writer wrote (keys in the table's order): one C-level pass over the types.
    if tuple(data) == table.order and all(
            map(frozenset.__contains__, table.allowed, map(type, data.values()))):
        return data
    present = data.keys()
    if present != table.types.keys() and (required is None or not required <= present
                                           or not present <= table.types.keys()):
        missing = sorted((required or table.types.keys()) - present)
        extra = sorted(present - table.types.keys())
        raise ShapeError("", "; ".join(
            part for part in (f"missing {', '.join(missing)}" if missing else "",
                              f"unexpected {', '.join(extra)}" if extra else "") if part))
    for name, value in data.items():
        if type(value) not in table.types[name]:
            allowed = " or ".join(sorted(_show_type(t) for t in table.types[name]))
            raise ShapeError(name, f"expected {allowed}, found {_show(value)}")
    return data


def _each(values: list[Any], where: str, convert: Callable[..., _T], *args: Any
          ) -> tuple[_T, ...]:
    """``convert`` of each item; an error names the item's index (built only on error)."""
    if not values:
        return ()
    out = []
    for index, value in enumerate(values):
        try:
            out.append(convert(value, *args))
        except ShapeError as error:
            raise error.within(f"{where}[{index}]") from None
    return tuple(out)


def _within(where: str, convert: Callable[..., _T], *args: Any) -> _T:
    try:
        return convert(*args)
    except ShapeError as error:
        raise error.within(where) from None


def _string_map(data: dict[str, Any]) -> dict[str, str]:
    if not all(type(v) is str for v in data.values()):
        raise ShapeError("", "expected an object of strings only")
    return data


def _show_type(kind: type) -> str:
    return _KINDS.get(kind, kind.__name__)


_KINDS = {type(None): "null", str: "a string", int: "an integer", float: "a number",
          bool: "a boolean", list: "an array", dict: "an object"}


def _show(value: Any) -> str:
    kind = _KINDS.get(type(value), type(value).__name__)
    return f"{kind} ({str(value)[:24]})" if type(value) in (int, float, bool) else kind
