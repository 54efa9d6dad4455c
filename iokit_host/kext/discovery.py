"""Finding installed kexts: distributions with entry points in group ``iokit.kexts``.

On a Mac, kextd/kmutil scan ``/Library/Extensions`` for bundles; here each installed
distribution's ``entry_points.txt`` is the bundle directory entry: the entry point's name is the
bundle id, its value the driver's import package, and the package holds ``Info.plist``.
The manifest is located **without importing** the package: ``Distribution.locate_file`` for
ordinary installs, else ``find_spec`` of the top-level package (which does not execute it) for
editable and path-based installs. Distributions are scanned once, in ``sys.path`` order, first
of a name wins (as ``importlib.metadata`` does); only distributions whose
``entry_points.txt`` names the group are parsed.

``discover`` uses the kernel collection (:mod:`iokit_host.kext.collection`) when it is fresh and
rebuilds it when the installed set changed.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kext.bundle import DistributionInfo, KextBundle
from iokit_host.kext.manifest import read_plist_file
from iokit_host.settings import env_flag

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
    """An installed distribution that declares kexts, with the file stamps that key the cache."""

    info: DistributionInfo
    stamps: tuple[tuple[str, int, int], ...]
    kexts: tuple[KextRecord, ...]


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
    records = collection.load_fresh(target, path=path, defines=defines)
    if records is not None:
        return _from_records(records, "fresh", target)
    records = scan(path=path, defines=defines)
    problem = collection.write(target, records, path=path, defines=defines)
    if problem is not None:
        result = _from_records(records, "unwritable", target)
        return Discovery(result.bundles, (*result.diagnostics, problem), result.records,
                         "unwritable", str(target))
    return _from_records(records, "rebuilt", target)


def _from_records(records: Iterable[DistributionRecord], status: str,
                  target: Path | None) -> Discovery:
    records = tuple(records)
    bundles = [k.bundle for r in records for k in r.kexts if k.bundle is not None]
    found = [d for r in records for k in r.kexts for d in k.diagnostics]
    return Discovery(tuple(bundles), tuple(found), records, status,
                     str(target) if target else None)


def scan(*, path: Sequence[str] | None = None,
         defines: Mapping[str, str] | None = None) -> tuple[DistributionRecord, ...]:
    """Read every kext distribution's manifests (no cache)."""
    seen: set[str] = set()
    records: list[DistributionRecord] = []
    found = metadata.distributions() if path is None else metadata.distributions(path=list(path))
    for dist in found:
        key = getattr(dist, "_normalized_name", None) or _normalise(dist.metadata["Name"] or "")
        if key in seen:
            continue
        seen.add(key)
        text = _entry_points_text(dist)
        if not text or _GROUP_HEADER not in text:
            continue
        records.append(_read_distribution(dist, text, path, defines or {}))
    return tuple(records)


def _entry_points_text(dist: metadata.Distribution) -> str | None:
    where = getattr(dist, "_path", None)
    if not isinstance(where, Path):
        return dist.read_text("entry_points.txt")
    try:  # the same file read_text opens, without pathlib on the per-distribution path
        with open(os.path.join(where, "entry_points.txt"), encoding="utf-8") as stream:
            return stream.read()
    except (OSError, UnicodeDecodeError):
        return None


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _group_entries(text: str) -> list[tuple[str, str]]:
    """``name = value`` lines of the ``[iokit.kexts]`` section (entry_points.txt is INI)."""
    entries: list[tuple[str, str]] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == GROUP and "=" in line:
            name, _, value = line.partition("=")
            entries.append((name.strip(), value.split("[", 1)[0].strip()))
    return entries


def _read_distribution(dist: metadata.Distribution, text: str, path: Sequence[str] | None,
                       defines: Mapping[str, str]) -> DistributionRecord:
    info = _distribution_info(dist)
    stamps = [_stamp(os.path.join(info.path, "entry_points.txt"))]
    kexts = []
    for name, value in _group_entries(text):
        package = value.partition(":")[0].strip()
        manifest = _locate(dist, package, path)
        if manifest is None:
            kexts.append(KextRecord(name, package, None, None, (Diagnostic(
                "kext-manifest-not-found",
                f"{info.name} declares kext {name} = {value} but package "
                f"{package} has no Info.plist", file=os.path.join(info.path, "entry_points.txt"),
                key=f"{GROUP}.{name}", subject=name,
                hint=f"ship {package.replace('.', '/')}/Info.plist as package data "
                     "(tool.setuptools.package-data)"),)))
            continue
        stamps.append(_stamp(manifest))
        kexts.append(_read_kext(name, package, manifest, info, defines))
    return DistributionRecord(info, tuple(s for s in stamps if s is not None), tuple(kexts))


def _read_kext(name: str, package: str, manifest: str, info: DistributionInfo,
               defines: Mapping[str, str]) -> KextRecord:
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


def _distribution_info(dist: metadata.Distribution) -> DistributionInfo:
    where = getattr(dist, "_path", None)
    if isinstance(where, Path):
        stem = where.name.rsplit(".", 1)[0]
        name, sep, version = stem.partition("-")
        if sep and version and where.suffix == ".dist-info":
            return DistributionInfo(name, version, str(where))
    return DistributionInfo(dist.metadata["Name"] or "?", dist.version or "?", str(where or ""))


def _locate(dist: metadata.Distribution, package: str,
            path: Sequence[str] | None) -> str | None:
    parts = package.split(".")
    relative = "/".join(parts) + "/Info.plist"
    where = getattr(dist, "_path", None)
    # locate_file is parent(dist-info) / relative; done with strings on the hot path.
    candidate = (os.path.join(os.path.dirname(where), relative) if isinstance(where, Path)
                 else str(dist.locate_file(relative)))
    if os.path.isfile(candidate):
        return candidate
    # Editable installs keep the package elsewhere: find it without executing it.
    try:
        spec = (importlib.machinery.PathFinder.find_spec(parts[0], list(path))
                if path is not None else importlib.util.find_spec(parts[0]))
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = os.path.join(location, *parts[1:], "Info.plist")
        if os.path.isfile(candidate):
            return candidate
    return None


def _stamp(file: str) -> tuple[str, int, int] | None:
    try:
        status = os.stat(file)
    except OSError:
        return None
    return (file, status.st_mtime_ns, status.st_size)
