"""``iokit kextstat``: kextstat's layout, kernel components first, links by index."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from iokit_host.cli import main
from tests.kext.dists import info_plist

ROW = re.compile(r"^ {0,4}\d+ +\d+ (0|0x[0-9a-f]+) +(0|0x[0-9a-f]+) +(0|0x[0-9a-f]+) +\S+ "
                 r"\(\S+\) [0-9A-F-]{36}( <[\d ]+>)?$")


@pytest.fixture
def kexts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("IOKIT_NO_CACHE", "1")
    lib = tmp_path / "lib.plist"
    lib.write_bytes(info_plist("com.example.lib", "2.0", compat="1.0",
                               libraries={"com.apple.kpi.libkern": "9.0"},
                               CFBundleExecutable="lib"))
    user = tmp_path / "user.plist"
    user.write_bytes(info_plist("com.example.user", "1.0",
                                libraries={"com.example.lib": "1.5",
                                           "com.apple.kpi.iokit": "9.0"},
                                CFBundleExecutable="user"))
    return ["--kext", str(user), "--kext", str(lib)]


def test_layout_and_links(kexts: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kextstat", *kexts]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("Index Refs Address            Size       Wired      "
                        "Name (Version) UUID <Linked Against>")
    assert all(ROW.match(line) for line in lines[1:]), lines
    index = {line.split()[5]: line for line in lines[1:]}
    assert lines[1].split()[5] == "com.apple.kpi.bsd"
    lib_tag = index["com.example.lib"].split()[0]
    iokit_tag = index["com.apple.kpi.iokit"].split()[0]
    assert index["com.example.user"].endswith(f"<{lib_tag} {iokit_tag}>")
    assert index["com.example.lib"].split()[1] == "1"  # one kext links against it


def test_json_and_filters(kexts: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kextstat", *kexts, "--json", "-b", "com.example.user"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["bundle_id"] for r in rows] == ["com.example.user"]
    assert rows[0]["address"].startswith("0xffffff7f8")
    assert main(["kextstat", *kexts, "-k", "-l"]) == 0
    out = capsys.readouterr().out
    assert "com.apple.kpi" not in out and not out.startswith("Index")


def test_refused_kext_reported_on_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IOKIT_NO_CACHE", "1")
    lonely = tmp_path / "l.plist"
    lonely.write_bytes(info_plist("com.example.lonely", libraries={"org.coolstar.VoodooGPIO": "1.1"},
                                  CFBundleExecutable="x"))
    assert main(["kextstat", "--kext", str(lonely)]) == 0
    captured = capsys.readouterr()
    assert "com.example.lonely" not in captured.out
    assert "kext-library-missing" in captured.err and "VoodooGPIO" in captured.err
