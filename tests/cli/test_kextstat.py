"""``iokit kextstat``: what a boot loaded, in kextstat's layout, kernel components first."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from iokit_host.cli import main
from tests.kext.dists import info_plist

ROW = re.compile(r"^ {0,4}\d+ +\d+ (0|0x[0-9a-f]+) +(0|0x[0-9a-f]+) +(0|0x[0-9a-f]+) +\S+ "
                 r"\(\S+\) [0-9A-F-]{36}( <[\d ]+>)?$")
WIFI = {"vendor-id": b"\xe4\x14\x00\x00"}


def _kext(folder: Path, bundle_id: str, personalities: dict | None = None,  # type: ignore[type-arg]
          **options: object) -> str:
    path = folder / f"{bundle_id}.plist"
    path.write_bytes(info_plist(bundle_id, personalities=personalities,
                                CFBundleExecutable=bundle_id.rpartition(".")[2], **options))
    return str(path)


@pytest.fixture
def kexts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wifi_machine: Path) -> list[str]:
    """A driver for the Wi-Fi card linking a library and IOPCIFamily; a driver that loses to it;
    a kext for a device the machine does not have; a library nothing uses."""
    monkeypatch.setenv("IOKIT_NO_CACHE", "1")
    driver = {"IOClass": "UserDriver", "IOProviderClass": "IOPCIDevice", "IOProbeScore": 5000,
              "IOPropertyMatch": WIFI}
    paths = [
        _kext(tmp_path, "com.example.lib", compat="1.0", version="2.0",
              libraries={"com.apple.kpi.libkern": "9.0"}),
        _kext(tmp_path, "com.example.user", {"User": driver},
              libraries={"com.example.lib": "1.5", "com.apple.kpi.iokit": "9.0",
                         "com.apple.iokit.IOPCIFamily": "2.0"}),
        _kext(tmp_path, "com.example.loser", {"Loser": {**driver, "IOClass": "LoserDriver",
                                                        "IOProbeScore": 100}}),
        _kext(tmp_path, "com.example.absent", {"USB": {
            "IOClass": "AbsentDriver", "IOProviderClass": "IOUSBHostDevice", "idVendor": 1452,
            "idProduct": 1}}),
        _kext(tmp_path, "com.example.unused", compat="1.0"),
    ]
    args = ["--machine", str(wifi_machine), "--only-kexts"]
    for path in paths:
        args += ["--kext", path]
    return args


def _names(out: str) -> list[str]:
    return [line.split()[5] for line in out.splitlines()[1:]]


def test_lists_the_kernel_then_the_kexts_whose_drivers_started_and_their_libraries(
        kexts: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kextstat", *kexts]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == ("Index Refs Address            Size       Wired      "
                        "Name (Version) UUID <Linked Against>")
    assert all(ROW.match(line) for line in lines[1:]), lines
    names = _names(out)
    assert names[0] == "com.apple.kpi.bsd"
    assert names[-3:] == ["com.apple.iokit.IOPCIFamily", "com.example.lib", "com.example.user"]
    # Loaded to probe but lost, no device, nothing links it: not loaded once the boot settles.
    for idle in ("com.example.loser", "com.example.absent", "com.example.unused",
                 "com.apple.iokit.IOUSBHostFamily"):
        assert idle not in names
    index = {line.split()[5]: line for line in lines[1:]}
    tags = {name: index[name].split()[0] for name in index}
    assert index["com.example.user"].endswith(
        f"<{tags['com.example.lib']} {tags['com.apple.iokit.IOPCIFamily']} "
        f"{tags['com.apple.kpi.iokit']}>")
    assert index["com.example.lib"].split()[1] == "1"  # one listed kext links against it


def test_what_is_listed_depends_on_the_machine(
        kexts: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "bare.toml"
    bare.write_text('[machine]\nname = "bare"\n\n[[nub]]\nclass = "IOPlatformExpertDevice"\n'
                    'name = "Bare"\n')
    machine_at = kexts.index("--machine") + 1
    assert main(["kextstat", *kexts[:machine_at], str(bare), *kexts[machine_at + 1:]]) == 0
    names = _names(capsys.readouterr().out)
    assert names and all(name.startswith(("com.apple.kpi.", "com.apple.kec.", "org.iokit-host."))
                         for name in names)


def test_json_and_filters(kexts: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kextstat", *kexts, "--json", "-b", "com.example.user"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["bundle_id"] for r in rows] == ["com.example.user"]
    assert rows[0]["address"].startswith("0xffffff7f8")
    assert main(["kextstat", *kexts, "-k", "-l"]) == 0
    out = capsys.readouterr().out
    assert "com.apple.kpi" not in out and not out.startswith("Index")
    assert "com.example.user" in out
    # -k keeps a kernel component asked for by id, as kextstat does.
    assert main(["kextstat", *kexts, "-k", "-l", "-b", "com.apple.kpi.iokit"]) == 0
    assert _names("\n" + capsys.readouterr().out) == ["com.apple.kpi.iokit"]


def test_refused_kext_reported_on_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         wifi_machine: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IOKIT_NO_CACHE", "1")
    lonely = _kext(tmp_path, "com.example.lonely", {"P": {
        "IOClass": "Lonely", "IOProviderClass": "IOPCIDevice"}},
        libraries={"org.coolstar.VoodooGPIO": "1.1"})
    args = ["kextstat", "--machine", str(wifi_machine), "--only-kexts", "--kext", lonely]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "com.example.lonely" not in captured.out
    assert "kext-library-missing" in captured.err and "VoodooGPIO" in captured.err
    assert main([*args, "--strict"]) == 1


def test_the_command_in_a_subprocess_takes_the_machine(kexts: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "iokit_host", "kextstat", "-k", "-l", *kexts],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "IOKIT_NO_CACHE": "1"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert [line.split()[5] for line in done.stdout.splitlines()] == [
        "com.apple.iokit.IOPCIFamily", "com.example.lib", "com.example.user"]
