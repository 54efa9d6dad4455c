"""``iokit explain``: every personality for one nub, as a table and as JSON."""

from __future__ import annotations

import json
import plistlib
from pathlib import Path

import pytest

from iokit_host.cli import main


@pytest.fixture()
def args(tmp_path: Path, wifi_machine: Path) -> list[str]:
    plist = tmp_path / "Info.plist"
    plist.write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.real.wifi", "CFBundleVersion": "1.0",
        "OSBundleLibraries": {"com.apple.kpi.iokit": "8.0"},
        "IOKitPersonalities": {
            "Wi-Fi": {"IOClass": "AppleRealWiFi", "IOProviderClass": "IOPCIDevice",
                      "IOProbeScore": 5000, "CFBundleIdentifier": "com.real.wifi"},
            "Intel": {"IOClass": "IntelOnly", "IOProviderClass": "IOPCIDevice",
                      "IOProbeScore": 9000, "CFBundleIdentifier": "com.real.wifi",
                      "IOPropertyMatch": {"vendor-id": b"\x86\x80\x00\x00"}}}}))
    return ["--machine", str(wifi_machine), "--only-kexts", "--kext", str(plist)]


def test_explain_json_lists_every_candidate_with_its_outcome(
        args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "pci14e4,4331", "--json", *args]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["provider"] == "IOService:/pci14e4,4331@0"
    rows = [(c["class"], c["score"], c["outcome"]) for c in data["candidates"]]
    assert rows == [("IntelOnly", None, "no-match"), ("AppleRealWiFi", 5000, "started"),
                    ("IOPCIDeviceGeneric", 100, "lost")]
    no_match = data["candidates"][0]
    assert no_match["reason"].startswith("IOPropertyMatch: 'vendor-id' is")
    assert set(no_match) >= {"bundle", "class", "category", "score", "outcome", "reason"}


def test_explain_table_names_the_winner(args: list[str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "IOService:/pci14e4,4331@0", *args]) == 0
    out = capsys.readouterr().out
    assert "lost to com.real.wifi AppleRealWiFi (score 5000)" in out
    assert "started with score 5000" in out


def test_explain_unknown_nub_fails_with_a_reference(args: list[str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "nothing-here", *args]) == 1
    assert "service-not-found" in capsys.readouterr().err
