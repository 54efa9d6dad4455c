"""``iokit explain``: every personality for one nub, as a table and as JSON, one meaning per
column; the README's example is what the command prints."""

from __future__ import annotations

import json
import os
import plistlib
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iokit_host.cli import main
from iokit_host.cli.explain import render_table

README = Path(__file__).resolve().parents[2] / "README.md"
SAMPLES = Path(__file__).resolve().parents[2] / "sample_drivers"
SEED = ("wlan-family", "bcm43xx", "thirdparty-wifi", "pci-generic")


@pytest.fixture()
def args(tmp_path: Path, wifi_machine: Path) -> list[str]:
    plist = tmp_path / "Info.plist"
    plist.write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.real.wifi", "CFBundleVersion": "1.0",
        "OSBundleLibraries": {"com.apple.kpi.iokit": "8.0"},
        "IOKitPersonalities": {
            "Wi-Fi": {"IOClass": "AppleRealWiFi", "IOProviderClass": "IOPCIDevice",
                      "IOProbeScore": 5000, "CFBundleIdentifier": "com.real.wifi"},
            "Generic": {"IOClass": "GenericPCI", "IOProviderClass": "IOPCIDevice",
                        "IOProbeScore": 100, "CFBundleIdentifier": "com.real.wifi"},
            "Intel": {"IOClass": "IntelOnly", "IOProviderClass": "IOPCIDevice",
                      "IOProbeScore": 9000, "CFBundleIdentifier": "com.real.wifi",
                      "IOPropertyMatch": {"vendor-id": b"\x86\x80\x00\x00"}}}}))
    return ["--machine", str(wifi_machine), "--only-kexts", "--kext", str(plist)]


def test_explain_json_lists_every_candidate_with_its_outcome(
        args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "pci14e4,4331", "--json", *args]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["provider"] == "IOService:/pci14e4,4331@0"
    rows = [(c["class"], c["initial_score"], c["score"], c["outcome"])
            for c in data["candidates"]]
    # A personality that did not match was never probed: it has no bid, only what probe
    # would have been offered.
    assert rows == [("IntelOnly", 9000, None, "no-match"),
                    ("AppleRealWiFi", 5000, 5000, "started"), ("GenericPCI", 100, 100, "lost")]
    no_match = data["candidates"][0]
    assert no_match["reason"].startswith("IOPropertyMatch: 'vendor-id' is")
    assert set(no_match) == {"bundle", "class", "category", "initial_score", "score",
                             "outcome", "reason"}


def test_the_readme_documents_the_json_keys() -> None:
    text = README.read_text(encoding="utf-8")
    assert ('`--json` prints `{"provider": ..., "candidates": [{"bundle", "class", "category", '
            '"initial_score", "score", "outcome", "reason"}]}`') in " ".join(text.split())


def test_explain_table_names_the_winner(args: list[str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "IOService:/pci14e4,4331@0", *args]) == 0
    out = capsys.readouterr().out
    assert "lost to com.real.wifi AppleRealWiFi (score 5000)" in out
    assert "started with score 5000" in out
    header = next(line for line in out.splitlines() if "bundle" in line)
    assert re.findall(r"\w+", header) == ["bundle", "class", "category", "initial", "score",
                                          "outcome", "reason"]


def test_explain_unknown_nub_fails_with_a_reference(args: list[str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "nothing-here", *args]) == 1
    assert "service-not-found" in capsys.readouterr().err


def test_the_command_prints_the_table_in_a_subprocess(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "iokit_host", "explain", "pci14e4,4331", *args],
                          capture_output=True, text=True, check=False, timeout=120,
                          env={**os.environ, "IOKIT_NO_CACHE": "1"})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "AppleRealWiFi" in done.stdout and "started with score 5000" in done.stdout


def _readme_example() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = text.split("$ iokit explain ARPT\n", 1)[1].split("```", 1)[0]
    return block.rstrip("\n").splitlines()


def test_the_readme_example_is_what_explain_prints_for_the_seed_picture(
        iokit_host: Callable[..., Any]) -> None:
    folders = [next((SAMPLES / f"iokit-sample-{name}").glob("*/Info.plist")).parent
               for name in SEED]
    host = iokit_host(kexts=folders)
    assert render_table(host.explain("ARPT")).splitlines() == _readme_example()


def test_manifest_text_is_printed_as_is_one_candidate_per_line(tmp_path: Path,
                                                               wifi_machine: Path) -> None:
    # A bundle id or IOClass holding '[/]' crashed the table (read as markup), and a newline
    # in a manifest string split a candidate over two lines.
    plist = tmp_path / "Info.plist"
    plist.write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.acme.x", "CFBundleVersion": "1.0",  # '[' is refused in an id
        "IOKitPersonalities": {"P": {"IOClass": "[bold]Evil\nLine", "IOProviderClass":
                                     "IOPCIDevice", "IOMatchCategory": "[/red]",
                                     "IONameMatch": "nothing"}}}))
    done = subprocess.run([sys.executable, "-m", "iokit_host", "explain", "pci14e4,4331",
                           "--machine", str(wifi_machine), "--only-kexts", "--kext", str(plist)],
                          capture_output=True, text=True, check=False, timeout=120,
                          env={**os.environ, "IOKIT_NO_CACHE": "1"})
    assert done.returncode == 0, done.stderr
    _, header, row = done.stdout.splitlines()
    assert header.split() == ["bundle", "class", "category", "initial", "score", "outcome",
                              "reason"]
    assert row.split()[:3] == ["com.acme.x", "[bold]Evil\\nLine", "[/red]"]
