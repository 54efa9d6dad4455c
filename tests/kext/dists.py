"""Build real kext distributions for tests: wheels written by hand, installed by real pip."""

from __future__ import annotations

import base64
import hashlib
import plistlib
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DRIVER_SOURCE = '''from iokit_sdk import IOService


class {cls}(IOService):
    pass
'''


def info_plist(bundle_id: str, version: str = "1.0.0", *, compat: str | None = None,
               libraries: Mapping[str, str] | None = None,
               personalities: Mapping[str, Any] | None = None, **extra: Any) -> bytes:
    info: dict[str, Any] = {"CFBundleIdentifier": bundle_id, "CFBundleVersion": version,
                            "OSBundleLibraries": dict(libraries or
                                                      {"com.apple.kpi.iokit": "9.0"})}
    if compat:
        info["OSBundleCompatibleVersion"] = compat
    if personalities is not None:
        info["IOKitPersonalities"] = dict(personalities)
    info.update(extra)
    return plistlib.dumps(info)


def write_wheel(out: Path, name: str, version: str, package: str, *,
                plist: bytes | None, entry_points: Mapping[str, str] | None = None,
                files: Mapping[str, str] | None = None) -> Path:
    """A pure-Python wheel holding ``package`` (with Info.plist) and an iokit.kexts entry."""
    normal = name.replace("-", "_")
    dist_info = f"{normal}-{version}.dist-info"
    contents: dict[str, bytes] = {f"{package}/__init__.py": b""}
    if plist is not None:
        contents[f"{package}/Info.plist"] = plist
    for path, text in (files or {}).items():
        contents[path] = text.encode()
    contents[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n").encode()
    contents[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    if entry_points:
        lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
        contents[f"{dist_info}/entry_points.txt"] = f"[iokit.kexts]\n{lines}".encode()
    record = [f"{p},sha256={_digest(d)},{len(d)}" for p, d in contents.items()]
    contents[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    wheel = out / f"{normal}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return wheel


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def pip_install_target(wheels: Sequence[Path], target: Path) -> None:
    """One real ``pip install --target`` of the wheels, offline."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--disable-pip-version-check", "--no-warn-script-location",
                    "--target", str(target), *map(str, wheels)], check=True)


def write_installed(site: Path, files: Mapping[str, bytes]) -> Path:
    """Lay files out in ``site`` as an installer leaves them (``<name>-<ver>.dist-info/...``,
    ``<package>/Info.plist``), byte for byte: for distributions no installer would write,
    such as an ``entry_points.txt`` that is not UTF-8."""
    for relative, data in files.items():
        target = site / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return site


def installed_kext(site: Path, package: str, bundle_id: str, source: str,
                   manifest: Mapping[str, Any]) -> Path:
    """``package`` (``source`` and its Info.plist ``manifest``) installed in ``site`` as a
    distribution of the same name with its ``iokit.kexts`` entry point, as pip leaves it:
    what ``PYTHONPATH=site`` finds."""
    name = package.replace("_", "-")
    return write_installed(site, {
        f"{package}/__init__.py": source.encode(),
        f"{package}/Info.plist": plistlib.dumps(dict(manifest)),
        f"{package}-1.0.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{package}-1.0.dist-info/entry_points.txt":
            f"[iokit.kexts]\n{bundle_id} = {package}\n".encode()})
