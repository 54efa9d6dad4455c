"""``iokit boot``: the IOService plane, the events scenario, the summary, strict mode."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from iokit_host.cli import main

EVENTS = """\
[[event]]
action = "plug"
parent = "TestMac"
at-ns = 1000
[event.nub]
class = "IOPCIDevice"
name = "pci8086,1"
location = "1"

[[event]]
action = "unplug"
path = "pci14e4,4331@0"
"""


def _plist(tmp_path: Path, personalities: dict) -> Path:  # type: ignore[type-arg]
    path = tmp_path / "Info.plist"
    path.write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.real.wifi", "CFBundleVersion": "1.0",
        "CFBundleName": "RealWiFi", "CFBundleExecutable": "RealWiFi",  # a kext with code
        "IOKitPersonalities": personalities,
        "OSBundleLibraries": {"com.apple.kpi.iokit": "8.0"}}))
    return path


@pytest.fixture()
def files(tmp_path: Path, wifi_machine: Path) -> dict[str, str]:
    (tmp_path / "events.toml").write_text(EVENTS)
    plist = _plist(tmp_path, {"Wi-Fi": {
        "IOClass": "AppleRealWiFi", "IOProviderClass": "IOPCIDevice", "IOProbeScore": 5000,
        "CFBundleIdentifier": "com.real.wifi",
        "IOPropertyMatch": {"vendor-id": b"\xe4\x14\x00\x00"}}, "Generic": {
        "IOClass": "IOPCIDeviceGeneric", "IOProviderClass": "IOPCIDevice", "IOProbeScore": 100,
        "CFBundleIdentifier": "com.real.wifi"}})
    return {"machine": str(wifi_machine), "events": str(tmp_path / "events.toml"),
            "kext": str(plist)}


def _boot(files: dict[str, str], *extra: str) -> list[str]:
    return ["boot", "--machine", files["machine"], "--only-kexts", "--kext", files["kext"],
            *extra]


def test_boot_prints_the_plane_and_one_summary_line(
        files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_boot(files)) == 0
    out = capsys.readouterr().out.splitlines()
    assert any("+-o AppleRealWiFi  <class AppleRealWiFi" in line for line in out)
    assert out[-1] == "3 nubs, 1 drivers started, 1 kexts loaded, 0 refusals, 0 waiting"


def test_boot_applies_events_and_prints_what_changed(
        files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_boot(files, "--events", files["events"])) == 0
    out = capsys.readouterr().out.splitlines()
    assert "[t=1000ns] plugged IOService:/pci8086,1@1: IOPCIDeviceGeneric" in out
    assert ("[t=1000ns] unplugged pci14e4,4331@0: terminated IOPCIDevice, AppleRealWiFi"
            in out)
    assert out[-1] == "3 nubs, 1 drivers started, 1 kexts loaded, 0 refusals, 0 waiting"


def test_strict_boot_fails_on_a_refused_kext(
        tmp_path: Path, files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "Info.plist").write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.bad", "CFBundleVersion": "1.0f0",
        "IOKitPersonalities": {}}))
    args = ["boot", "--machine", files["machine"], "--only-kexts", "--kext", str(bad / "Info.plist")]
    assert main(args) == 0
    assert main([*args, "--strict"]) == 1
    assert "error[manifest-bad-version]" in capsys.readouterr().err


def test_iokit_strict_in_the_environment_acts_as_the_flag(
        tmp_path: Path, files: dict[str, str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "Info.plist"
    bad.write_bytes(plistlib.dumps({"CFBundleIdentifier": "com.bad", "CFBundleVersion": "1.0f0",
                                    "IOKitPersonalities": {}}))
    monkeypatch.setenv("IOKIT_STRICT", "1")
    args = ["--machine", files["machine"], "--only-kexts", "--kext", str(bad)]
    assert main(["boot", *args]) == 1
    out, err = capsys.readouterr()
    assert "+-o TestMac" in out and out.rstrip().endswith("0 waiting")  # printed, then failed
    assert "error[manifest-bad-version]" in err
    assert main(["ioreg", *args]) == 1
    out, err = capsys.readouterr()
    assert "+-o TestMac" in out and "error[manifest-bad-version]" in err
    monkeypatch.setenv("IOKIT_STRICT", "0")
    assert main(["ioreg", *args]) == 0


def test_the_summary_counts_the_refusals_printed_under_it(
        tmp_path: Path, files: dict[str, str]) -> None:
    """The real command: an unreadable plist, a placeholder identity, a personality without a
    class and a kext whose library is missing are four refusals, printed and counted."""
    unreadable = tmp_path / "unreadable.plist"
    unreadable.write_bytes(b"\x00not a plist")
    libraries = {"com.apple.kpi.iokit": "8.0"}
    placeholder = tmp_path / "placeholder.plist"
    placeholder.write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "$(PRODUCT_BUNDLE_IDENTIFIER)", "CFBundleVersion": "1.0",
        "OSBundleLibraries": libraries}))
    classless = _plist(tmp_path, {"Bad": {"IOClass": ["x"], "IOProviderClass": "IOPCIDevice"}})
    lonely = tmp_path / "lonely.plist"
    lonely.write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.lonely", "CFBundleVersion": "1.0", "CFBundleExecutable": "L",
        "OSBundleLibraries": {"org.coolstar.VoodooGPIO": "1.1", **libraries}}))
    args = ["boot", "--machine", files["machine"], "--only-kexts"]
    for path in (unreadable, placeholder, classless, lonely):
        args += ["--kext", str(path)]
    done = subprocess.run([sys.executable, "-m", "iokit_host", *args], capture_output=True,
                          text=True, check=False, timeout=120,
                          env={**os.environ, "IOKIT_NO_CACHE": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith("4 refusals, 0 waiting")
    printed = [line.split("]")[0] for line in done.stderr.splitlines()
               if line.startswith(("error[", "warning["))]
    assert printed == ["error[manifest-unreadable", "error[manifest-build-placeholder",
                       "warning[personality-ill-typed-class", "error[kext-library-missing"]
