"""The kernel collection: one cache file of every installed kext manifest (kmutil's KC, kextcache).

``iokit kmutil create`` (or any ``discover`` that finds it stale) writes one JSON file holding
each kext distribution's name, version, path, the validated manifests and their diagnostics
(a bundle read from it has its fixed-up ``personalities``; its raw ``info`` omits them), in the
layout of :mod:`~iokit_host.kext.collection_schema`. A boot with a fresh collection stats a few
hundred files and reads one instead of scanning every distribution.

What makes it stale (then it is rebuilt, silently): another ``sys.executable``, ``sys.prefix``,
scanned path or defines; a path entry's directory changing (a distribution installed or
removed); any ``entry_points.txt`` or ``Info.plist`` it was built from, or the folder where a
missing one was looked for, changing (:mod:`~iokit_host.kext.stamps`: mtime, size and inode
change time at full precision, and the content of a file touched just before the scan; an edit
with the mtime put back is noticed); a module of iokit-host itself changing (the reading of a
manifest is the host's code).

What makes it invalid (rebuilt too, with a ``kernel-collection-invalid`` note): a file that
cannot be read, is not JSON, has another format number, or any field of the wrong type; and
anything at its name the host cannot have written (a FIFO, a device, a symlink, a folder, a
file of another user, see :func:`~iokit_host.input_file.read_cache_file`).
A collection that cannot be written (read-only or full disk, a directory in its place) is a
``kernel-collection-unwritable`` warning; the boot goes on from the scan.

Location: ``$IOKIT_CACHE_DIR``, else ``<sys.prefix>/var/iokit-host/``, one file per
interpreter and path. ``IOKIT_NO_CACHE=1`` bypasses it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from iokit_host import settings
from iokit_host.errors import Diagnostic, Severity
from iokit_host.input_file import prune_cache_files, read_cache_file, write_cache_file
from iokit_host.kext import collection_schema, plistjson, stamps
from iokit_host.kext.collection_schema import FORMAT
from iokit_host.kext.discovery import DistributionRecord
from iokit_host.kext.stamps import FileStamp
from iokit_host.path_reason import MISSING, folder_problem

__all__ = ["FORMAT", "collection_path", "load", "watch", "write",
           "write_atomically"]

_HOST_PACKAGES = ("iokit_host", "iokit_sdk")
#: Far past any collection (hundreds of kexts are a few MB); a bigger file is not one.
MAX_COLLECTION_BYTES = 256 << 20
_HINT = ("set IOKIT_CACHE_DIR to a writable directory, or IOKIT_NO_CACHE=1 to scan "
         "installed distributions on every boot")


def collection_path(cache_dir: str | Path | None = None,
                    path: Sequence[str] | None = None) -> Path:
    """The collection file for this interpreter and path (one per combination, no thrashing)."""
    digest = hashlib.sha256("\0".join(
        [sys.executable, sys.prefix, *_scan_path(path)]).encode(
            "utf-8", "surrogateescape")).hexdigest()[:16]
    return Path(cache_dir or settings.cache_dir(), f"kernel-collection-{digest}.json")


def _scan_path(path: Sequence[str] | None) -> list[str]:
    return list(sys.path if path is None else path)


def _key(path: Sequence[str] | None, defines: Mapping[str, str] | None) -> dict[str, Any]:
    return {"executable": sys.executable, "prefix": sys.prefix, "path": _scan_path(path),
            "defines": dict(defines or {})}


def watch(path: Sequence[str] | None, started: int) -> tuple[FileStamp, ...]:
    """Stamps of each path entry's folder (installs and removals change it), taken before
    the scan so that an install during it leaves the collection stale."""
    return tuple(stamps.take(entry, started) or FileStamp.absent(entry)
                 for entry in (e or "." for e in _scan_path(path)))


def _host_modules(started: int) -> tuple[FileStamp, ...]:
    """Stamps of the host's loaded modules: how a manifest reads is the host's code, so a
    changed iokit-host (an editable checkout, an upgrade in place) rebuilds the collection.
    Taken after the scan, when every module it used is loaded."""
    files = sorted({file for name, module in list(sys.modules.items())
                    if name.partition(".")[0] in _HOST_PACKAGES
                    and isinstance(file := getattr(module, "__file__", None), str)})
    return tuple(stamp for stamp in (stamps.take(file, started) for file in files) if stamp)


# -- reading ---------------------------------------------------------------------------------
def load(target: Path, *, path: Sequence[str] | None = None,
         defines: Mapping[str, str] | None = None
         ) -> tuple[tuple[DistributionRecord, ...] | None, Diagnostic | None]:
    """The records of the collection at ``target`` if it is fresh (else None), and a note
    when the file was there but unusable. Never raises."""
    try:
        raw = read_cache_file(target, limit=MAX_COLLECTION_BYTES)
    except (FileNotFoundError, NotADirectoryError):  # none yet (or no folder: write says so)
        return None, None
    except OSError as error:
        if folder_problem(target.parent) not in (None, MISSING):
            return None, None  # the folder is what is wrong (a loop of links): write says so
        return None, _invalid(target, f"it cannot be read ({error.strerror or error})")
    try:
        collection = collection_schema.read(json.loads(raw))
    except collection_schema.ShapeError as error:
        return None, _invalid(target, f"it does not have the collection's layout: {error}")
    except (ValueError, RecursionError) as error:  # not JSON, not UTF-8, nested too deep
        return None, _invalid(target, f"it is not JSON ({type(error).__name__})")
    if collection.key != _key(path, defines):
        return None, None
    current = all(s.is_current() for s in collection.watch) and all(
        s.is_current() for r in collection.records for s in r.stamps)
    return (collection.records if current else None), None


def _invalid(target: Path, reason: str) -> Diagnostic:
    return Diagnostic(
        "kernel-collection-invalid",
        f"the kernel collection was not used: {reason}; it is rebuilt from the installed "
        "distributions", file=str(target), severity=Severity.WARNING,
        hint="nothing to do if this happens once (a damaged file, or one written by another "
             "iokit-host); `iokit kmutil create` rebuilds it by hand")


# -- writing ---------------------------------------------------------------------------------
def write(target: Path, records: Sequence[DistributionRecord],
          watched: Sequence[FileStamp] | None = None, *,
          path: Sequence[str] | None = None,
          defines: Mapping[str, str] | None = None) -> Diagnostic | None:
    """Write the collection atomically; a warning (never an exception) when it cannot be.

    :param watched: from :func:`watch`, taken before the scan; taken now when None.
    """
    started = stamps.scan_clock()
    watched = (*(watch(path, started) if watched is None else watched),
               *_host_modules(started))
    try:
        # json.dumps (one shot) uses the C encoder; json.dump streams through pure Python.
        # The document is built here from parsed manifests, so it holds no cycle: not
        # checking for one spares the encoder a table of every container (a cycle would
        # still end, as RecursionError).
        text = json.dumps(collection_schema.dump(_key(path, defines), watched, records),
                          separators=(",", ":"), check_circular=False)
    except (plistjson.ValueShapeError, ValueError, TypeError, RecursionError) as error:
        return Diagnostic(
            "kernel-collection-unwritable",
            f"cannot write the kernel collection: a manifest value cannot be stored ({error})",
            file=str(target), severity=Severity.WARNING, hint=_HINT)
    try:
        write_atomically(target, text)
    except OSError as error:
        return Diagnostic(
            "kernel-collection-unwritable",
            f"cannot write the kernel collection: {_write_reason(target, error)}",
            file=str(target), severity=Severity.WARNING, hint=_HINT)
    prune_cache_files(target.parent, "kernel-collection-")
    return None


def _write_reason(target: Path, error: OSError) -> str:
    """Why the write failed, in words: a cache folder that is a file (or a loop of links)
    says so, not EEXIST (or "not a folder")."""
    found = error.strerror or str(error)
    # The highest folder at fault: a loop at cache/ makes cache/sub a loop too.
    for folder in (target.parent, *target.parent.parents):
        problem = folder_problem(folder)
        if problem is None:
            break
        if problem != MISSING:
            found = f"{folder}: {problem}"
    return found


def write_atomically(target: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``target`` and rename it over (atomic)."""
    write_cache_file(target, text.encode("utf-8"), prefix=".kc-")
