"""Fixtures for the pytest plugin's tests: the sample drivers' folders and throwaway kexts."""

from __future__ import annotations

import plistlib
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "sample_drivers"


@pytest.fixture(scope="session")
def sample_kext() -> Callable[[str], Path]:
    """``sample_kext("bcm43xx")``: the package folder of ``iokit-sample-bcm43xx``.

    ``"versions/wlan-family-1"`` names the 1.x family kept outside the install glob.
    """

    def folder(name: str) -> Path:
        root = SAMPLES / (name if name.startswith("versions/") else f"iokit-sample-{name}")
        (package,) = [p.parent for p in root.glob("*/Info.plist")]
        return package

    return folder


@pytest.fixture
def make_kext(tmp_path: Path) -> Callable[..., Path]:
    """Write a driver package folder (``Info.plist`` + ``__init__.py``) and return it.

    ``make_kext("pkg", "com.test.Foo", personalities={...}, code="class Foo(IOService): ...")``
    """

    def make(package: str, bundle_id: str, *, personalities: Mapping[str, Any],
             code: str, libraries: Mapping[str, str] | None = None) -> Path:
        folder = tmp_path / package
        folder.mkdir()
        info = {
            "CFBundleIdentifier": bundle_id,
            "CFBundleVersion": "1.0.0",
            "CFBundleExecutable": package,
            "OSBundleLibraries": dict(libraries or {"com.apple.kpi.iokit": "9.0.0"}),
            "IOKitPersonalities": {name: {"CFBundleIdentifier": bundle_id, **table}
                                   for name, table in personalities.items()},
        }
        (folder / "Info.plist").write_bytes(plistlib.dumps(info))
        header = "from iokit_sdk import IOService\n\n"
        (folder / "__init__.py").write_text(header + textwrap.dedent(code), encoding="utf-8")
        return folder

    return make
