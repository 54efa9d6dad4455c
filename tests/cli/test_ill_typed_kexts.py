"""An installed kext whose manifest has keys of the wrong type: ``iokit boot``, a warm boot from
the kernel collection, ``iokit kextstat`` and ``iokit kext inspect`` all finish cleanly and
name each damaged key, in real subprocesses over a real installed distribution."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kext.dists import installed_kext

ID = "com.example.illtyped"
MANIFEST = {
    "CFBundleIdentifier": ID, "CFBundleVersion": "1.0", "OSBundleRequired": ["Root"],
    "OSBundleLibraries": {"com.apple.kpi.iokit": "9.0"}, "CFBundleName": 5,
    "IOKitPersonalities": {
        "Malformed": {"IOProviderClass": "IOPCIDevice", "IOClass": "IllTyped",
                      "IOPCIMatch": "0xZZZZ14e4", "IOProbeScore": "high"},
        "Dated": {"IOProviderClass": "IOPCIDevice", "IOClass": "IllTyped",
                  "IONameMatch": {"a": 1}, "Built": dt.datetime(2020, 1, 1), "Gain": 0.5},
        "Nameless": {"IOProviderClass": "IOPCIDevice", "IOClass": ["IllTyped"]}},
}
EXPECTED = [  # (reference, key) of every warning
    ("match-key-malformed", "IOKitPersonalities.Malformed.IOPCIMatch"),
    ("personality-ill-typed-number", "IOKitPersonalities.Malformed.IOProbeScore"),
    ("personality-unsupported-value", "IOKitPersonalities.Dated.Built"),
    ("personality-unsupported-value", "IOKitPersonalities.Dated.Gain"),
    ("match-key-ill-typed", "IOKitPersonalities.Dated.IONameMatch"),
    ("personality-ill-typed-class", "IOKitPersonalities.Nameless.IOClass"),
    ("manifest-bad-bundle-required", "OSBundleRequired"),
    ("manifest-ill-typed-key", "CFBundleName"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory with the kext installed (package, dist-info, entry point)."""
    return installed_kext(tmp_path_factory.mktemp("site"), "ill_typed", ID,
                          "from iokit_sdk import IOService\n\n\n"
                          "class IllTyped(IOService):\n    pass\n", MANIFEST)


def _iokit(site: Path, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "IOKIT_CACHE_DIR": str(cache)}
    env.pop("IOKIT_NO_CACHE", None)
    result = subprocess.run([sys.executable, "-m", "iokit_host", *args], env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def _warnings(text: str) -> list[tuple[str, str]]:
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("warning[") and "Info.plist: " in line:
            reference = line[len("warning["):line.index("]")]
            key = line.split("Info.plist: ", 1)[1].split(": ", 1)[0]
            found.append((reference, key))
    return found


def test_boot_cold_and_warm_and_kextstat(site: Path, tmp_path: Path) -> None:
    for _ in ("cold", "warm"):
        result = _iokit(site, tmp_path, "boot")
        assert result.returncode == 0, result.stderr
        assert sorted(_warnings(result.stderr)) == sorted(EXPECTED)
        assert " drivers started, " in result.stdout  # the boot finished with its summary
        assert list(tmp_path.glob("kernel-collection-*.json"))  # the warm boot reads it
    stat = _iokit(site, tmp_path, "kextstat")
    assert stat.returncode == 0, stat.stderr
    assert stat.stdout.startswith("Index Refs Address")


def test_inspect_the_installed_kext(site: Path, tmp_path: Path) -> None:
    result = _iokit(site, tmp_path, "kext", "inspect", ID)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{ID} (1.0) kext")
    assert "personalities (2):" in result.stdout  # Nameless alone is refused
    assert sorted(_warnings(result.stdout)) == sorted(EXPECTED)
