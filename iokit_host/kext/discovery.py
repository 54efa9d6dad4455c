"""Finding installed kexts: distributions with entry points in group ``iokit.kexts``.

On a Mac, kextd/kmutil scan ``/Library/Extensions`` for bundles; here each installed
distribution's ``entry_points.txt`` is the bundle directory entry: the entry point's name is the
bundle id, its value the driver's import package, and the package holds ``Info.plist``.
The manifest is located **without importing** the package: ``Distribution.locate_file`` for
ordinary installs, else ``find_spec`` of the top-level package (which does not execute it) for
editable and path-based installs. Distributions are scanned once, in ``sys.path`` order, first
of a name wins (as ``importlib.metadata`` does); only distributions whose
``entry_points.txt`` names the group are parsed.

One bad installed item never stops the rest, as one bad bundle in ``/Library/Extensions``
does not stop kextd: a distribution whose metadata cannot be read (an ``entry_points.txt``
that is not UTF-8, a garbled or missing ``METADATA``, no name) or whose entry point is
malformed costs a warning naming it, and only what it declares is lost.

``discover`` uses the kernel collection (:mod:`iokit_host.kext.collection`) when it is fresh and
rebuilds it when the installed set changed.
"""

from __future__ import annotations

import errno
import functools
import importlib.machinery
import importlib.util
import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from iokit_host.errors import Diagnostic, Severity, quoted
from iokit_host.kext import distributions, stamps
from iokit_host.kext.bundle import DistributionInfo, KextBundle
from iokit_host.kext.stamps import FileStamp
from iokit_host.settings import env_flag

if TYPE_CHECKING:  # imported by the scan only: a boot from the kernel collection never loads it
    from importlib import metadata

__all__ = ["GROUP", "Discovery", "DistributionRecord", "KextRecord", "discover", "scan"]

GROUP = "iokit.kexts"
_GROUP_HEADER = f"[{GROUP}]"


@dataclass(frozen=True, slots=True)
class KextRecord:
    """One entry point of one distribution and what reading its manifest gave."""

    entry_point: str
    package: str
    manifest: str | None
    bundle: KextBundle | None
    diagnostics: tuple[Diagnostic, ...]


@dataclass(frozen=True, slots=True)
class DistributionRecord:
    """An installed distribution that declares kexts, with the file stamps that key the cache.

    :param diagnostics: problems of the distribution itself (unreadable metadata), as opposed
        to those of one of its kexts.
    """

    info: DistributionInfo
    stamps: tuple[FileStamp, ...]
    kexts: tuple[KextRecord, ...]
    diagnostics: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True, slots=True)
class Discovery:
    """The installed kexts.

    :param bundles: every readable bundle, in discovery order (duplicates included; the
        resolver picks one per id and reports the rest).
    :param diagnostics: refused manifests and discovery problems.
    :param cache_status: ``fresh`` (read from the kernel collection), ``rebuilt``, ``off``
        (``use_cache=False`` or ``IOKIT_NO_CACHE=1``) or ``unwritable``.
    """

    bundles: tuple[KextBundle, ...]
    diagnostics: tuple[Diagnostic, ...]
    records: tuple[DistributionRecord, ...] = field(default=(), compare=False)
    cache_status: str = "off"
    cache_path: str | None = None

    def find(self, bundle_id: str) -> tuple[KextBundle, ...]:
        return tuple(b for b in self.bundles if b.bundle_id == bundle_id)

    def diagnostics_for(self, bundle_id: str) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.subject == bundle_id)


def discover(
    *,
    use_cache: bool = True,
    cache_dir: str | Path | None = None,
    path: Sequence[str] | None = None,
    defines: Mapping[str, str] | None = None,
) -> Discovery:
    """Find every installed kext (from the kernel collection when it is fresh).

    Never raises: a collection that is damaged or of another format is rebuilt with a
    ``kernel-collection-invalid`` note; one that cannot be written is a warning.

    :param use_cache: read and write the kernel collection; ``IOKIT_NO_CACHE=1`` turns it off.
    :param cache_dir: where the collection lives (``IOKIT_CACHE_DIR``, else
        ``<sys.prefix>/var/iokit-host``).
    :param path: directories to scan instead of ``sys.path``.
    :param defines: build placeholder values applied to every manifest.
    """
    from iokit_host.kext import collection

    if not use_cache or env_flag("IOKIT_NO_CACHE"):
        return _from_records(scan(path=path, defines=defines), "off", None)
    target = collection.collection_path(cache_dir, path)
    records, note = collection.load(target, path=path, defines=defines)
    if records is not None:
        return _from_records(records, "fresh", target)
    started = stamps.scan_clock()
    watched = collection.watch(path, started)  # before the scan: an install during it counts
    records = scan(path=path, defines=defines, started=started)
    problem = collection.write(target, records, watched, path=path, defines=defines)
    notes = tuple(d for d in (note, problem) if d is not None)
    return _from_records(records, "rebuilt" if problem is None else "unwritable", target, notes)


def _from_records(records: Iterable[DistributionRecord], status: str,
                  target: Path | None, notes: tuple[Diagnostic, ...] = ()) -> Discovery:
    records = tuple(records)
    bundles = [k.bundle for r in records for k in r.kexts if k.bundle is not None]
    found: list[Diagnostic] = []
    for record in records:  # the distribution's own problems, then its kexts'
        found += record.diagnostics
        found += (d for kext in record.kexts for d in kext.diagnostics)
    return Discovery(tuple(bundles), (*found, *notes), records, status,
                     str(target) if target else None)


def scan(*, path: Sequence[str] | None = None, defines: Mapping[str, str] | None = None,
         started: int | None = None) -> tuple[DistributionRecord, ...]:
    """Read every kext distribution's manifests (no cache); never raises.

    :param started: when the scan began (:func:`stamps.scan_clock`); files touched just
        before it get a content digest in their stamps.
    """
    started = stamps.scan_clock() if started is None else started
    seen: set[str] = set()
    records: list[DistributionRecord] = []
    from importlib import metadata

    found = metadata.distributions(path=stamps.search_path(path))
    for dist in distributions.each(found, lambda problem: records.append(DistributionRecord(
            DistributionInfo("?", "?", ""), (), (), (problem,)))):
        key = distributions.dedupe_key(dist)
        if key in seen:
            continue
        seen.add(key)
        try:
            record = _read_distribution(dist, path, defines or {}, started)
        except Exception as error:  # noqa: BLE001 - one distribution's fault stays its own
            watched, problem = distributions.unreadable(
                dist, f"{type(error).__name__}: {error}", started)
            record = DistributionRecord(distributions.describe(dist), watched, (), (problem,))
        if record is not None:
            records.append(record)
    return tuple(records)


def _read_distribution(dist: metadata.Distribution, path: Sequence[str] | None,
                       defines: Mapping[str, str], started: int) -> DistributionRecord | None:
    """The distribution's kexts, or None when it declares none."""
    entry_points = distributions.read_entry_points(dist, _GROUP_HEADER, started)
    if entry_points is None:
        return None
    info = distributions.describe(dist)
    file = os.path.join(info.path, "entry_points.txt")
    watched = [entry_points.stamp] if entry_points.stamp else []
    kexts = [_read_entry(dist, name, value, info, file, path, defines, started, watched)
             for name, value in distributions.group_entries(entry_points.text, GROUP)
             if "\ufffd" not in name + value]  # damaged lines: reported with the file
    return DistributionRecord(info, tuple(watched), tuple(kexts), entry_points.diagnostics)


def _read_entry(dist: metadata.Distribution, name: str, value: str, info: DistributionInfo,
                file: str, path: Sequence[str] | None, defines: Mapping[str, str],
                started: int, watched: list[FileStamp]) -> KextRecord:
    """One ``bundle-id = package`` entry; its manifest's stamp is added to ``watched``."""
    package = value.partition(":")[0].strip()
    why = _bad_entry(name, package)
    if why:
        return KextRecord(name, package, None, None, (Diagnostic(
            "kext-entry-point-bad-value",
            f"{info.name} declares kext {quoted(name)} = {quoted(value)}, which {why}", file=file,
            key=f"{GROUP}.{name}", subject=name or info.name, severity=Severity.WARNING,
            hint="an iokit.kexts entry point reads <bundle id> = <import package>, e.g. "
                 "com.example.driver = example_driver"),))
    try:
        manifest, searched, status = _locate(dist, package, path)
    except Exception as error:  # noqa: BLE001 - import finders are anyone's code
        manifest, searched, status = None, [], None
        reason = f"looking for package {package} raised {type(error).__name__}: {error}"
    else:
        reason = _missing_reason(package, searched)
    watched += [s for s in (stamps.take(d, started) for d in searched) if s is not None]
    if manifest is None:
        return KextRecord(name, package, None, None, (Diagnostic(
            "kext-manifest-not-found",
            f"{info.name} declares kext {name} = {value} but {reason}", file=file,
            key=f"{GROUP}.{name}", subject=name,
            hint=_missing_hint(package, reason)),))
    # Stamped before reading (a later write makes it stale), from the stat that found it.
    stamp = stamps.take(manifest, started) if status is None else stamps.stamp_of(
        manifest, status, started)
    watched += [stamp] if stamp else []
    try:
        return _read_kext(name, package, manifest, info, defines)
    except Exception as error:  # noqa: BLE001 - a reader bug costs this kext, not the boot
        return KextRecord(name, package, manifest, None, (Diagnostic(
            "manifest-unreadable", f"reading it raised {type(error).__name__}: {error}",
            file=manifest, subject=name,
            hint="this is a bug in iokit-host: please report it with the Info.plist"),))


def _bad_entry(name: str, package: str) -> str | None:
    """Why an entry point cannot name a kext, or None."""
    if not name:
        return "has no name (the name is the bundle id)"
    if not package or not all(part.isidentifier() for part in package.split(".")):
        return "is not an import package name"
    return None


def _read_kext(name: str, package: str, manifest: str, info: DistributionInfo,
               defines: Mapping[str, str]) -> KextRecord:
    read_plist_file = _manifest_reader()
    given = {"PRODUCT_BUNDLE_IDENTIFIER": name, "MODULE_NAME": name,
             "PRODUCT_NAME": package.rsplit(".", 1)[-1], **defines}
    bundle, found = read_plist_file(manifest, defines=given, package=package,
                                    distribution=info)
    if bundle is not None and bundle.bundle_id != name:
        found.append(Diagnostic(
            "kext-entry-point-name-mismatch",
            f"entry point {name} names a kext whose CFBundleIdentifier is {bundle.bundle_id}",
            file=manifest, key="CFBundleIdentifier", subject=bundle.bundle_id,
            severity=Severity.WARNING,
            hint="name the iokit.kexts entry point after the bundle id; the plist's id is used"))
        bundle = replace(bundle, diagnostics=tuple(found))
    return KextRecord(name, package, manifest, bundle, tuple(found))


@functools.cache
def _manifest_reader() -> Callable[..., tuple[KextBundle | None, list[Diagnostic]]]:
    """The manifest reader, imported on first use: a boot from a fresh kernel collection reads
    no manifest (and the collection stamps the modules a scan loads, taken after it). Once,
    not per kext: a function-level import costs microseconds on every call."""
    from iokit_host.kext.manifest import read_plist_file

    return read_plist_file


def _locate(dist: metadata.Distribution, package: str, path: Sequence[str] | None
            ) -> tuple[str | None, list[str], os.stat_result | None]:
    """The package's Info.plist (None if absent) with its status, and the folders searched
    for it, whose stamps notice an Info.plist added later."""
    parts = package.split(".")
    relative = "/".join(parts) + "/Info.plist"
    where = getattr(dist, "_path", None)
    # locate_file is parent(dist-info) / relative; done with strings on the hot path.
    candidate = (os.path.join(os.path.dirname(where), relative) if isinstance(where, Path)
                 else str(dist.locate_file(relative)))
    status = _regular_file(candidate)
    if status is not None:
        return candidate, [], status
    searched = [os.path.dirname(candidate)]
    # Editable installs keep the package elsewhere: find it without executing it.
    try:
        spec = (importlib.machinery.PathFinder.find_spec(parts[0], list(path))
                if path is not None else importlib.util.find_spec(parts[0]))
    except (ImportError, ValueError):
        return None, searched, None
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = os.path.join(location, *parts[1:], "Info.plist")
        status = _regular_file(candidate)
        if status is not None:
            return candidate, [], status
        searched.append(os.path.dirname(candidate))
    return None, searched, None


def _missing_hint(package: str, reason: str) -> str:
    if reason.endswith("not a file"):
        return "put the kext's Info.plist, a regular file, in that place"
    return (f"ship {package.replace('.', '/')}/Info.plist as package data "
            "(tool.setuptools.package-data)")


def _missing_reason(package: str, searched: list[str]) -> str:
    """Why no manifest was found: what stands where an Info.plist was looked for, if anything
    (a folder or a pipe is no missing file, and the usual hint would mislead)."""
    for folder in searched:
        what = _not_a_file(os.path.join(folder, "Info.plist"))
        if what is not None:
            return f"its Info.plist ({os.path.join(folder, 'Info.plist')}) is {what}, not a file"
    return f"package {package} has no Info.plist"


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a pipe"), (stat.S_ISCHR, "a device"),
          (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def _not_a_file(path: str) -> str | None:
    """What ``path`` is when something other than a regular file is there, else None."""
    try:
        status = os.stat(path)
    except OSError as error:
        return "a symlink loop" if error.errno == errno.ELOOP else None
    except ValueError:
        return None
    return next((name for test, name in _KINDS if test(status.st_mode)), None)


def _regular_file(path: str) -> os.stat_result | None:
    """The status of ``path`` when it is a regular file (``os.path.isfile``), else None; the
    stamp is made from it, which saves a second stat per manifest."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return status if stat.S_ISREG(status.st_mode) else None
