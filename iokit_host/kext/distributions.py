"""One installed distribution, read without trusting it (kextd reading one bundle's folder).

``importlib.metadata`` raises out of its iterators and properties when one installed
distribution is damaged (an ``entry_points.txt`` or ``METADATA`` that is not UTF-8, no
``METADATA`` at all, no ``Name``), so one stray distribution would stop every boot. Here each
read is of one distribution and cannot raise: what cannot be read becomes a warning naming the
distribution, and the rest of it (and every other distribution) is still read.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kext import stamps
from iokit_host.kext.bundle import DistributionInfo
from iokit_host.kext.stamps import FileStamp

if TYPE_CHECKING:  # imported by the scan only: a boot from the caches never loads it
    from importlib import metadata

__all__ = ["EntryPointsFile", "dedupe_key", "describe", "each", "group_entries", "metadata_field",
           "read_entry_points", "unreadable"]

_T = TypeVar("_T")
_REINSTALL = "reinstall the distribution (pip install --force-reinstall), or uninstall it"


@dataclass(frozen=True, slots=True)
class EntryPointsFile:
    """A distribution's ``entry_points.txt`` that names the group: its text (undecodable
    bytes replaced), its stamp (None for a distribution not in a folder) and what was wrong."""

    text: str
    stamp: FileStamp | None
    diagnostics: tuple[Diagnostic, ...]


def each(found: Iterable[_T], report: Callable[[Diagnostic], None]) -> Iterator[_T]:
    """``found``, stopping with a warning if the search itself fails (a third-party finder)."""
    iterator = iter(found)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except Exception as error:  # noqa: BLE001 - finders on sys.meta_path are anyone's code
            report(Diagnostic(
                "kext-distribution-search-failed",
                f"the search for installed distributions failed: {type(error).__name__}: "
                f"{error}; distributions it had not reached yet were not scanned",
                severity=Severity.WARNING,
                hint="a finder on sys.meta_path raised in find_distributions; uninstall "
                     "or fix the package that installed it"))
            return


_SEPARATORS = re.compile(r"[-_.]+")


def dedupe_key(dist: metadata.Distribution) -> str:
    """The normalised name, first of a name wins; a nameless distribution keys by its path."""
    where = getattr(dist, "_path", None)
    if isinstance(where, Path) and where.suffix in (".dist-info", ".egg-info"):
        # The name half of ``name-version.dist-info``, as importlib's own _normalized_name
        # reads it, without the property machinery: every installed distribution is keyed.
        stem_name = where.stem.partition("-")[0]
        if stem_name:
            return _SEPARATORS.sub("_", stem_name).lower()
    name = _quietly(lambda: getattr(dist, "_normalized_name", None))
    if not isinstance(name, str) or not name:
        name = metadata_field(dist, "Name")
    if name:
        return _SEPARATORS.sub("_", name).lower()
    return f"path:{where if where is not None else id(dist)}"


def describe(dist: metadata.Distribution) -> DistributionInfo:
    """Name, version and folder; from the ``name-version.dist-info`` folder name when it has
    both (no metadata read), else from the metadata, else the folder or ``?``."""
    where = getattr(dist, "_path", None)
    stem = "?"
    if isinstance(where, Path):
        stem = where.name.rsplit(".", 1)[0]
        name, sep, version = stem.partition("-")
        if sep and version and where.suffix == ".dist-info":
            return DistributionInfo(name, version, str(where))
    return DistributionInfo(metadata_field(dist, "Name") or stem,
                            metadata_field(dist, "Version") or "?", str(where or ""))


def read_entry_points(dist: metadata.Distribution, header: str,
                      started: int) -> EntryPointsFile | None:
    """``entry_points.txt`` when it has the section ``header``, else None.

    Stat, then read (:func:`stamps.read_stamped`): the bytes parsed are the bytes stamped.
    """
    where = getattr(dist, "_path", None)
    if not isinstance(where, Path):
        text = dist.read_text("entry_points.txt")  # a custom Distribution: its own reader
        return EntryPointsFile(text, None, ()) if text and header in text else None
    file = os.path.join(where, "entry_points.txt")
    try:  # the same file read_text opens, without pathlib on the hot path
        stamp, data = stamps.read_stamped(file, started)
    except (FileNotFoundError, NotADirectoryError):  # none, or an old .egg-info file
        return None
    except OSError as error:
        _, problem = unreadable(
            dist, f"cannot read entry_points.txt: {error.strerror or error}", started)
        return EntryPointsFile("", stamps.take(file, started), (problem,))
    if header.encode() not in data:
        return None
    try:
        return EntryPointsFile(data.decode("utf-8-sig"), stamp, ())
    except UnicodeDecodeError as error:
        text = data.decode("utf-8-sig", "replace")  # keep the lines that decode
        return EntryPointsFile(text, stamp, (_not_utf8(dist, file, error, text, header),))


def _not_utf8(dist: metadata.Distribution, file: str, error: UnicodeDecodeError, text: str,
              header: str) -> Diagnostic:
    info = describe(dist)
    group = header.strip("[]")
    damaged = sum("\ufffd" in n + v for n, v in group_entries(text, group))
    return Diagnostic(
        "kext-distribution-unreadable",
        f"installed distribution {info.name} {info.version}: entry_points.txt is not UTF-8 "
        f"({error.reason} at byte {error.start}); {damaged} {group} entries on damaged "
        "lines are skipped", file=file, subject=info.name, severity=Severity.WARNING,
        hint=_REINSTALL)


def group_entries(text: str, group: str) -> list[tuple[str, str]]:
    """``name = value`` lines of the ``[group]`` section (entry_points.txt is INI)."""
    entries: list[tuple[str, str]] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            entries.append((name.strip(), value.split("[", 1)[0].strip()))
    return entries


def unreadable(dist: metadata.Distribution, reason: str,
               started: int) -> tuple[tuple[FileStamp, ...], Diagnostic]:
    """A distribution that could not be read: stamps that notice a fix, a warning naming it."""
    info = describe(dist)
    where = getattr(dist, "_path", None)
    watched = [stamps.take(os.path.join(where, name), started)
               for name in ("entry_points.txt", "METADATA", "PKG-INFO")
               ] if isinstance(where, Path) else []
    return tuple(s for s in watched if s is not None), Diagnostic(
        "kext-distribution-unreadable",
        f"installed distribution {info.name} {info.version} cannot be read: {reason}; "
        "any kexts it declares are skipped", file=info.path or None, subject=info.name,
        severity=Severity.WARNING, hint=_REINSTALL)


def _quietly(read: Callable[[], _T]) -> _T | None:
    """One metadata field of a third-party distribution, None when reading it fails."""
    try:
        return read()
    except Exception:  # noqa: BLE001 - garbled metadata raises anything (UnicodeDecodeError...)
        return None


def metadata_field(dist: metadata.Distribution, name: str) -> str | None:
    """A field of the distribution's metadata; None when it has none or it cannot be read.

    ``importlib.metadata`` reads ``METADATA``, else ``PKG-INFO``, else the ``.egg-info``
    itself, whole, with ``open()``: one that is a FIFO waited for a writer forever, one linked
    to ``/dev/zero`` filled memory. Such a distribution's metadata is not read."""
    where = getattr(dist, "_path", None)
    if isinstance(where, Path) and not _plain_metadata(where):
        return None
    value = _quietly(lambda: dist.metadata[name])
    return value if isinstance(value, str) and value else None


def _plain_metadata(where: Path) -> bool:
    """Whether each file ``importlib.metadata`` may read the metadata from is a regular file
    (or absent), as an installer writes it."""
    for candidate in (where / "METADATA", where / "PKG-INFO", where):
        try:
            mode = os.stat(candidate).st_mode
        except (OSError, ValueError):
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return False
    return True
