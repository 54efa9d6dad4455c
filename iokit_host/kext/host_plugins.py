"""Host plugins as installed distributions declare them: the ``iokit`` entry-point group.

A walk over every installed distribution's ``entry_points.txt``, each read on its own as
:mod:`iokit_host.kext.discovery` does (kextd's scan of the extensions folders), so an
unrelated distribution with damaged metadata costs nothing and one of ours costs a warning
(:mod:`iokit_host.kernel.plugin_admission` reports it and loads the plugins). The walk stamps
what it read, so :mod:`iokit_host.kext.install_index` can keep its result between boots.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from iokit_sdk.hookspecs import PROJECT

from iokit_host.kext import stamps
from iokit_host.kext.stamps import FileStamp

if TYPE_CHECKING:  # imported by a walk only: a boot from the install index never loads it
    from importlib import metadata

__all__ = ["ENTRY_POINT_GROUP", "DamagedEntryPoints", "EntryPointPlugin", "EntryPointScan",
           "scan_entry_points"]

#: The entry-point group of host plugins (the SDK's pluggy project name, ``iokit``).
ENTRY_POINT_GROUP = PROJECT
_HEADER = re.compile(rb"^\s*\[\s*" + re.escape(ENTRY_POINT_GROUP.encode()) + rb"\s*\]",
                     re.MULTILINE)


@dataclass(frozen=True)
class EntryPointPlugin:
    """One ``name = value`` line of an ``[iokit]`` section, and the distribution declaring it."""

    name: str
    value: str
    distribution: str


@dataclass(frozen=True)
class DamagedEntryPoints:
    """A distribution whose ``entry_points.txt`` has our section but is not UTF-8."""

    distribution: str
    file: str


@dataclass(frozen=True)
class EntryPointScan:
    """What one walk over the installed distributions found, in the order found.

    :param stamps: every ``entry_points.txt`` read or looked for, and the metadata of each
        distribution declaring plugins (what the plugin index checks); None when something
        could not be stamped (a custom distribution, a failing finder): not cacheable.
    """

    found: tuple[EntryPointPlugin | DamagedEntryPoints, ...]
    stamps: tuple[FileStamp, ...] | None



def scan_entry_points(started: int) -> EntryPointScan:
    """Read each installed distribution's ``entry_points.txt`` on its own, as
    :mod:`iokit_host.kext.discovery` does, so an unrelated one with damaged metadata costs
    nothing, and one of ours costs a warning.

    :param started: when the scan began (:func:`stamps.scan_clock`).
    """
    seen: set[str] = set()
    found: list[EntryPointPlugin | DamagedEntryPoints] = []
    watched: list[FileStamp] | None = []
    cut_short: list[bool] = []
    for dist in _distributions(on_failure=lambda: cut_short.append(True)):
        entry_points = _group_text(dist, started)
        stamp = entry_points[3] if entry_points is not None else _stamp_absent(dist, started)
        if watched is not None and stamp is not None:
            watched.append(stamp)
        elif stamp is None:
            watched = None
        if entry_points is None or not entry_points[0]:
            continue
        text, file, damaged, _ = entry_points
        name = _distribution_name(dist)
        if watched is not None:
            watched += _metadata_stamps(dist, started)
        if damaged:
            found.append(DamagedEntryPoints(name, file))
        for entry_name, value in _section(text):
            if entry_name not in seen:
                seen.add(entry_name)
                found.append(EntryPointPlugin(entry_name, value, name))
    if cut_short:
        watched = None
    return EntryPointScan(tuple(found), None if watched is None else tuple(watched))


def _distributions(on_failure: Callable[[], None]) -> Iterator[metadata.Distribution]:
    """``metadata.distributions()``, ending quietly (``on_failure`` called) if a third-party
    finder fails (kext discovery, which walks the same list first, reports that)."""
    from importlib import metadata

    found = iter(metadata.distributions(path=stamps.search_path()))
    while True:
        try:
            yield next(found)
        except StopIteration:
            return
        except Exception:  # noqa: BLE001 - reported by kext discovery
            on_failure()
            return


def _group_text(dist: metadata.Distribution, started: int
                ) -> tuple[str, str, bool, FileStamp | None] | None:
    """``entry_points.txt`` (bytes that are not UTF-8 as U+FFFD), its path, whether it was
    damaged so, and its stamp (None for a custom distribution's). The text is empty when
    the file lacks our section; None when it cannot be read."""
    where = getattr(dist, "_path", None)
    stamp: FileStamp | None = None
    try:
        if isinstance(where, Path):
            file = os.path.join(where, "entry_points.txt")
            stamp, data = stamps.read_stamped(file, started)
        else:
            text = dist.read_text("entry_points.txt") or ""
            file, data = "entry_points.txt", text.encode()
    except Exception:  # noqa: BLE001 - absent, unreadable: no plugins declared here
        return None
    if not _HEADER.search(data):
        return "", file, False, stamp
    try:
        return data.decode("utf-8-sig"), file, False, stamp
    except UnicodeDecodeError:
        return data.decode("utf-8-sig", "replace"), file, True, stamp


def _stamp_absent(dist: metadata.Distribution, started: int) -> FileStamp | None:
    """The stamp of an ``entry_points.txt`` that could not be read (absent, or unreadable:
    then it is noticed once it changes); None for a custom distribution."""
    where = getattr(dist, "_path", None)
    if not isinstance(where, Path):
        return None
    file = os.path.join(where, "entry_points.txt")
    return stamps.take(file, started) or FileStamp.absent(file)


def _metadata_stamps(dist: metadata.Distribution, started: int) -> list[FileStamp]:
    """The files a declaring distribution's name is read from."""
    where = getattr(dist, "_path", None)
    if not isinstance(where, Path):
        return []
    files = (os.path.join(where, name) for name in ("METADATA", "PKG-INFO"))
    return [stamps.take(file, started) or FileStamp.absent(file) for file in files]


def _section(text: str) -> list[tuple[str, str]]:
    """``name = value`` lines of the ``[iokit]`` section, skipping damaged or nameless ones."""
    from iokit_host.kext.distributions import group_entries  # a walk's: not a cached boot's

    return [(name, value) for name, value in group_entries(text, ENTRY_POINT_GROUP)
            if name and "\ufffd" not in name + value]


def _distribution_name(dist: metadata.Distribution) -> str:
    try:
        name = dist.metadata["Name"]
    except Exception:  # noqa: BLE001 - garbled METADATA
        name = None
    where = getattr(dist, "_path", None)
    return name if isinstance(name, str) and name else (
        where.name if isinstance(where, Path) else "?")


