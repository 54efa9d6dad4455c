"""Kexts for tests: named bundles from installed distributions or from folders (kextload's args).

``kextload`` takes a bundle path and ``kmutil load -b`` a bundle id; a test names its kexts the
same two ways. A bundle id is looked up among installed distributions (entry-point group
``iokit.kexts``); a path is a driver package folder (holding ``Info.plist`` and
``__init__.py``), a kext folder or a bare ``Info.plist``. Only the named kexts reach the host,
so whatever else is installed cannot change a test's result.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from iokit_host.errors import IOKitError
from iokit_host.kext.bundle import KextBundle
from iokit_host.kext.discovery import Discovery, discover
from iokit_host.kext.manifest import locate_manifest, read_manifest

__all__ = ["KextNotFoundError", "KextSpec", "kext_bundles", "package_root"]

KextSpec = KextBundle | str | Path


class KextNotFoundError(IOKitError):
    reference = "test-kext-not-found"


def kext_bundles(specs: Iterable[KextSpec]) -> list[KextBundle]:
    """One :class:`KextBundle` per spec, in order.

    :param specs: bundle ids (``com.example.driver.Foo``), paths, or bundles; one of them
        alone (``kexts="com.example.driver.Foo"``) is that one kext, not its characters.
    :raises KextNotFoundError: for an id no installed distribution declares, or a path
        whose manifest is refused (the message carries the manifest's diagnostics).
    """
    if isinstance(specs, (str, Path, KextBundle)):
        specs = [specs]
    discovery: Discovery | None = None
    bundles: list[KextBundle] = []
    for spec in specs:
        if isinstance(spec, KextBundle):
            bundles.append(spec)
        elif isinstance(spec, Path) or _looks_like_path(spec):
            bundles.append(_from_path(Path(spec)))
        else:
            # Discovery scans every installed distribution: do it once per call, not per id.
            discovery = discovery or discover(use_cache=False)
            bundles.append(_from_installed(discovery, spec))
    return bundles


def package_root(bundle: KextBundle) -> Path | None:
    """The folder to put on ``sys.path`` so a path-loaded kext's package imports."""
    if bundle.package is None or bundle.distribution is not None or bundle.source is None:
        return None
    return Path(bundle.source).parent.parent


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or "\\" in spec or spec.endswith(".plist") or Path(spec).exists()


def _from_installed(discovery: Discovery, bundle_id: str) -> KextBundle:
    found = discovery.find(bundle_id)
    if found:
        return found[0]
    problems = "; ".join(str(d) for d in discovery.diagnostics_for(bundle_id))
    raise KextNotFoundError(
        f"no installed distribution declares kext {bundle_id}"
        + (f" ({problems})" if problems else ""),
        subject=bundle_id,
        hint="install the driver package (pip install -e .) or pass its folder instead")


def _from_path(path: Path) -> KextBundle:
    manifest = locate_manifest(path)
    # A driver package folder (Info.plist beside __init__.py) has code; anything else is
    # loaded codeless, as ``iokit boot --kext`` does.
    package = manifest.parent.name if (manifest.parent / "__init__.py").is_file() else None
    bundle, diagnostics = read_manifest(manifest, package=package)
    if bundle is None:
        # Each diagnostic's reference and message, its hint as the error's: str() of one
        # ends in a hint line, which the error's own line showed as a literal "\n".
        raise KextNotFoundError(
            f"the manifest at {manifest} was refused: "
            + "; ".join(f"{d.reference}: {d.message}" for d in diagnostics),
            file=str(manifest), hint=next((d.hint for d in diagnostics if d.hint), None))
    return bundle
