"""The kernel collection: one cache file of every installed kext manifest (kmutil's KC, kextcache).

``iokit kmutil create`` (or any ``discover`` that finds it stale) writes one JSON file holding
each kext distribution's name, version, path, the validated manifests and their diagnostics
(a bundle read from it has its fixed-up ``personalities``; its raw ``info`` omits them),
keyed by file stamps at **full precision** (``st_mtime_ns`` and ``st_size`` of every
``entry_points.txt`` and ``Info.plist``; stevedore's float32 mtimes miss a rewrite within two
minutes), plus ``sys.executable``, ``sys.prefix``, the scanned path and each path entry's
directory stamp (which changes when a distribution is installed or removed). A boot with a fresh
collection stats those files and reads one file instead of scanning every distribution.

Location: ``$IOKIT_CACHE_DIR``, else ``<sys.prefix>/var/iokit-host/``, one file per
interpreter and path. ``IOKIT_NO_CACHE=1`` bypasses it. A collection that cannot be written is
reported (``kernel-collection-unwritable``), never silently skipped.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kext.bundle import DistributionInfo, KextBundle
from iokit_host.kext.discovery import DistributionRecord, KextRecord

__all__ = ["FORMAT", "collection_path", "default_cache_dir", "load_fresh", "write"]

FORMAT = 1


def default_cache_dir() -> Path:
    override = os.environ.get("IOKIT_CACHE_DIR")
    return Path(override) if override else Path(sys.prefix, "var", "iokit-host")


def collection_path(cache_dir: str | Path | None = None,
                    path: Sequence[str] | None = None) -> Path:
    """The collection file for this interpreter and path (one per combination, no thrashing)."""
    digest = hashlib.sha256("\0".join(
        [sys.executable, sys.prefix, *_scan_path(path)]).encode()).hexdigest()[:16]
    return Path(cache_dir or default_cache_dir(), f"kernel-collection-{digest}.json")


def _scan_path(path: Sequence[str] | None) -> list[str]:
    return list(sys.path if path is None else path)


def _path_stamps(path: Sequence[str] | None) -> list[list[Any]]:
    stamps: list[list[Any]] = []
    for entry in _scan_path(path):
        try:
            status = os.stat(entry or ".")
            stamps.append([entry, status.st_mtime_ns, status.st_size])
        except OSError:
            stamps.append([entry, None, None])
    return stamps


def _header(path: Sequence[str] | None, defines: Mapping[str, str] | None) -> dict[str, Any]:
    return {"format": FORMAT, "executable": sys.executable, "prefix": sys.prefix,
            "path": _scan_path(path), "path_stamps": _path_stamps(path),
            "defines": dict(defines or {})}


# -- freshness -------------------------------------------------------------------------------
def load_fresh(target: Path, *, path: Sequence[str] | None = None,
               defines: Mapping[str, str] | None = None
               ) -> tuple[DistributionRecord, ...] | None:
    """The records of the collection at ``target`` if it is fresh, else None."""
    try:
        raw = target.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError):
        return None
    tagged = b'"$data"' in raw or b'"$date"' in raw
    if not isinstance(data, dict) or data.get("header") != _header(path, defines):
        return None
    try:
        distributions = data["distributions"]
        if not all(_stamps_fresh(d["stamps"]) for d in distributions):
            return None
        return tuple(_record_from_json(d, tagged) for d in distributions)
    except (KeyError, TypeError, ValueError):
        return None  # written by another version or damaged: rebuild


def _stamps_fresh(stamps: list[list[Any]]) -> bool:
    for file, mtime_ns, size in stamps:
        try:
            status = os.stat(file)
        except OSError:
            return False
        if status.st_mtime_ns != mtime_ns or status.st_size != size:
            return False
    return True


def write(target: Path, records: Sequence[DistributionRecord], *,
          path: Sequence[str] | None = None,
          defines: Mapping[str, str] | None = None) -> Diagnostic | None:
    """Write the collection atomically; a diagnostic when it cannot be written."""
    data = {"header": _header(path, defines),
            "distributions": [_record_to_json(r) for r in records]}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".kc-", dir=target.parent)
        # json.dumps (one shot) uses the C encoder; json.dump streams through pure Python.
        text = json.dumps(data, separators=(",", ":"), default=_tag_value)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except OSError as error:
        return Diagnostic(
            "kernel-collection-unwritable", f"cannot write the kernel collection: {error}",
            file=str(target), severity=Severity.WARNING,
            hint="set IOKIT_CACHE_DIR to a writable directory, or IOKIT_NO_CACHE=1 to scan "
                 "installed distributions on every boot")
    return None


# -- JSON encoding (plist values: bytes and dates are tagged) --------------------------------
def _record_to_json(record: DistributionRecord) -> dict[str, Any]:
    info = record.info
    return {"name": info.name, "version": info.version, "path": info.path,
            "stamps": [list(s) for s in record.stamps],
            "kexts": [_kext_to_json(k) for k in record.kexts]}


def _kext_to_json(kext: KextRecord) -> dict[str, Any]:
    bundle = kext.bundle
    encoded = None
    if bundle is not None:
        encoded = {name: getattr(bundle, name) for name in _BUNDLE_SCALARS}
        encoded["libraries"] = dict(bundle.libraries)
        encoded["personalities"] = dict(bundle.personalities)
        # The personalities are stored once, fixed up; the raw info keeps everything else.
        encoded["info"] = {k: v for k, v in bundle.info.items()
                           if not k.startswith("IOKitPersonalities")}
    return {"entry_point": kext.entry_point, "package": kext.package,
            "manifest": kext.manifest, "bundle": encoded,
            "diagnostics": [_diagnostic_to_json(d) for d in kext.diagnostics]}


_BUNDLE_SCALARS = ("bundle_id", "version", "version_value", "compatible_version",
                   "compatible_version_value", "package", "has_executable", "required",
                   "is_interface", "is_kernel_resource", "is_dext", "source")


def _record_from_json(data: dict[str, Any], tagged: bool) -> DistributionRecord:
    info = DistributionInfo(data["name"], data["version"], data["path"])
    kexts = tuple(_kext_from_json(k, info, tagged) for k in data["kexts"])
    return DistributionRecord(info, tuple(tuple(s) for s in data["stamps"]), kexts)


def _kext_from_json(data: dict[str, Any], info: DistributionInfo,
                    tagged: bool) -> KextRecord:
    diagnostics = tuple(_diagnostic_from_json(d) for d in data["diagnostics"])
    raw = data["bundle"]
    bundle = None
    if raw is not None:
        scalars = {name: raw[name] for name in _BUNDLE_SCALARS}
        personalities, whole = raw["personalities"], raw["info"]
        if tagged:  # only files holding <data> or <date> values pay for the walk
            personalities, whole = _untag(personalities), _untag(whole)
        bundle = KextBundle(
            **scalars, libraries=MappingProxyType(raw["libraries"]),
            personalities=MappingProxyType(personalities),
            info=MappingProxyType(whole), distribution=info,
            diagnostics=diagnostics)
    return KextRecord(data["entry_point"], data["package"], data["manifest"], bundle,
                      diagnostics)


def _diagnostic_to_json(diagnostic: Diagnostic) -> dict[str, Any]:
    return diagnostic.to_json()


def _diagnostic_from_json(data: dict[str, Any]) -> Diagnostic:
    return Diagnostic(data["reference"], data["message"], file=data.get("file"),
                      key=data.get("key"), hint=data.get("hint"), subject=data.get("subject"),
                      severity=Severity(data["severity"]))


def _tag_value(value: Any) -> Any:
    """Plist values JSON lacks (``json.dumps`` default): bytes and dates become tagged objects."""
    if isinstance(value, bytes):
        return {"$data": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dt.datetime):
        return {"$date": value.isoformat()}
    if isinstance(value, MappingProxyType):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not a plist value")


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            if "$data" in value:
                return base64.b64decode(value["$data"])
            if "$date" in value:
                return dt.datetime.fromisoformat(value["$date"])
        return {k: _untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untag(v) for v in value]
    return value
