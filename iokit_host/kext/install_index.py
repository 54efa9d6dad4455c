"""The install index: what every boot asks of the installed distributions, cached as the
kernel collection is.

Two questions besides the kexts need a walk over the installed distributions through
``importlib.metadata``, whose import alone is a large part of a short command: which host
plugins the ``iokit`` entry-point group declares (:mod:`~iokit_host.kext.host_plugins`), and
which release of ``iokit-sdk`` is installed (the SDK interface's version,
:mod:`~iokit_host.kext.kpi`). Like the kernel collection (:mod:`~iokit_host.kext.collection`,
kextcache's role) each answer is kept in a file beside it and used only while it cannot be
stale: the same interpreter, prefix and ``sys.path``; every path entry's folder unchanged (an
install or removal changes it); every file the answer was read from unchanged, including the
``entry_points.txt`` of every distribution, present or absent
(:mod:`~iokit_host.kext.stamps`); and the host's code that reads them unchanged. Otherwise
the walk runs again and the file is rewritten.

Only time is saved, so the index never speaks: a file that is missing, damaged or cannot be
written is rebuilt or skipped silently (the kernel collection in the same folder reports a
folder that cannot be written). ``IOKIT_NO_CACHE=1`` bypasses it, as it does the collection.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from iokit_host.input_file import prune_cache_files, read_cache_file
from iokit_host.kext import collection, stamps
from iokit_host.kext import host_plugins as plugins
from iokit_host.kext.host_plugins import DamagedEntryPoints, EntryPointPlugin, EntryPointScan
from iokit_host.kext.stamps import FileStamp
from iokit_host.settings import env_flag

__all__ = ["FORMAT", "cached", "host_plugins", "index_path"]

#: Bumped whenever a file's layout changes (another layout is simply rebuilt).
FORMAT = 1

_T = TypeVar("_T")
#: Computes an answer from a walk begun at the given clock: its JSON form and the stamps of
#: what it read (None when something could not be stamped: then it is not kept).
Compute = Callable[[int], tuple[Any, "tuple[FileStamp, ...] | None"]]


def index_path(kind: str, cache_dir: str | Path | None = None) -> Path:
    """The file of one answer for this interpreter and path, beside its kernel collection."""
    target = collection.collection_path(cache_dir)
    return target.with_name(target.name.replace("kernel-collection", kind, 1))


def cached(kind: str, compute: Compute, parse: Callable[[Any], _T | None],
           code: tuple[str, ...], cache_dir: str | Path | None = None) -> _T:
    """The answer ``kind``: from its file when that is fresh, else computed (and kept).

    :param parse: the answer from its JSON form; None when the form is damaged.
    :param code: the host modules whose reading the answer holds (a change rebuilds it).
    """
    started = stamps.scan_clock()
    if env_flag("IOKIT_NO_CACHE"):
        return _parsed(kind, compute(started)[0], parse)
    target = index_path(kind, cache_dir)
    kept = _load(target, parse)
    if kept is not None:
        return kept
    watched = collection.watch(None, started)  # before the walk: an install during it counts
    value, read = compute(started)
    if read is not None:
        code_stamps = (stamps.take(file, started) for file in code)
        _write(target, value, (*watched, *read, *(s for s in code_stamps if s is not None)))
    return _parsed(kind, value, parse)


def _parsed(kind: str, value: Any, parse: Callable[[Any], _T | None]) -> _T:
    answer = parse(value)
    if answer is None:  # pragma: no cover - compute and parse disagree: the host's own bug
        raise TypeError(f"{kind}: the answer does not parse its own form")
    return answer


#: The walk's reader of ``entry_points.txt`` (:mod:`~iokit_host.kext.distributions`), named by
#: its file: importing it only for its name would cost every cached boot its import.
_DISTRIBUTIONS = os.path.join(os.path.dirname(__file__), "distributions.py")


def refresh(cache_dir: str | Path | None = None) -> None:
    """Drop the index's answers and walk the host plugins again (``iokit kmutil create``):
    rebuilding the caches must also mend one that a damaged file kept being refused."""
    for kind in _KINDS:
        try:
            index_path(kind, cache_dir).unlink()
        except OSError:  # absent, or a folder in its place: the next write reports nothing
            pass
    host_plugins(cache_dir)


_KINDS = ("host-plugins", "sdk-interface")


# -- host plugins ----------------------------------------------------------------------------
def host_plugins(cache_dir: str | Path | None = None) -> EntryPointScan:
    """The ``iokit`` entry points, in the order the walk found them; never raises."""
    return cached("host-plugins", _walk_plugins, _parse_plugins,
                  (plugins.__file__, _DISTRIBUTIONS, __file__), cache_dir)


def _walk_plugins(started: int) -> tuple[Any, tuple[FileStamp, ...] | None]:
    found = plugins.scan_entry_points(started)
    rows = [[i.name, i.value, i.distribution] if isinstance(i, EntryPointPlugin)
            else [i.distribution, i.file] for i in found.found]
    return rows, found.stamps


def _parse_plugins(raw: Any) -> EntryPointScan | None:
    if not isinstance(raw, list):
        return None
    out: list[EntryPointPlugin | DamagedEntryPoints] = []
    for item in raw:
        if not (isinstance(item, list) and all(isinstance(s, str) for s in item)):
            return None
        if len(item) == 3:
            out.append(EntryPointPlugin(item[0], item[1], item[2]))
        elif len(item) == 2:
            out.append(DamagedEntryPoints(item[0], item[1]))
        else:
            return None
    return EntryPointScan(tuple(out), None)


# -- the file ------------------------------------------------------------------------------
def _key() -> dict[str, Any]:
    return {"format": FORMAT, "executable": sys.executable, "prefix": sys.prefix,
            "path": list(sys.path)}


def _load(target: Path, parse: Callable[[Any], _T | None]) -> _T | None:
    """The answer at ``target`` when it is there, well formed and fresh; else None."""
    try:
        raw = json.loads(read_cache_file(target, limit=collection.MAX_COLLECTION_BYTES))
    except (OSError, ValueError, RecursionError):  # missing, unreadable, not JSON or UTF-8
        return None
    if not isinstance(raw, dict) or raw.get("key") != _key():
        return None
    watched = _stamps(raw.get("watch"))
    if watched is None or not all(s.is_current() for s in watched):
        return None
    return parse(raw.get("value"))


def _stamps(raw: object) -> tuple[FileStamp, ...] | None:
    if not isinstance(raw, list):
        return None
    out: list[FileStamp] = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 5 and isinstance(item[0], str)
                and "\0" not in item[0]  # no file has one (os.stat raises ValueError)
                and all(type(n) is int for n in item[1:4])
                and (item[4] is None or isinstance(item[4], str))):
            return None
        out.append(FileStamp(item[0], item[1], item[2], item[3], item[4]))
    return tuple(out)


def _write(target: Path, value: Any, watched: tuple[FileStamp, ...]) -> None:
    """Write one answer atomically; a failure only means the next boot walks again."""
    text = json.dumps({"key": _key(), "watch": [
        [s.file, s.mtime_ns, s.size, s.ctime_ns, s.digest] for s in watched], "value": value},
        separators=(",", ":"))
    try:
        collection.write_atomically(target, text)
    except (OSError, ValueError):  # read-only, full, a directory in its place, a NUL in a name
        return
    prune_cache_files(target.parent, target.name.rsplit("-", 1)[0] + "-")
