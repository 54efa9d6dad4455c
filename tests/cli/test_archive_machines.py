"""IORegistryExplorer archives and ``ioreg -a`` output wherever ``--machine`` is taken, as a
user runs the commands: ``ioreg -p``/``-i``, ``machine import``, ``conformance``, ``boot``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from iokit_host.cli import main
from iokit_host.machine import read_machine
from tests.explorer_archive.archivekit import archive_bytes, small_machine


@pytest.fixture()
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "Mac-1.ioreg"
    path.write_bytes(archive_bytes(small_machine()))
    return path


def test_ioreg_prints_each_plane_of_an_archive(archive: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ioreg", "-p", "IODeviceTree", "--machine", str(archive)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("  +-o /  <class IOPlatformExpertDevice")
    assert any("+-o chosen  <class IOService" in line for line in lines)
    assert main(["ioreg", "-p", "IOUSB", "--machine", str(archive)]) == 0
    assert "+-o Hub@1a100000  <class IOUSBHubDevice" in capsys.readouterr().out


def test_ioreg_i_prints_the_recorded_chains(archive: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ioreg", "-i", "--machine", str(archive)]) == 0
    out = capsys.readouterr().out
    assert ("+-o AppleIntelFramebuffer  <class IORegistryEntry:IOService:IOGraphicsDevice:"
            "IOFramebuffer:AppleIntelFramebuffer,") in out


def test_machine_import_keeps_every_plane(archive: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mac.toml"
    assert main(["machine", "import", str(archive), "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    model = read_machine(out)
    assert [entry.name for entry in model.entries] == ["chosen"]
    assert model.classes["AppleIntelFramebuffer"] == "IOFramebuffer"
    assert main(["ioreg", "-p", "IOUSB", "--machine", str(out)]) == 0
    assert "Hub@1a100000" in capsys.readouterr().out


def test_conformance_takes_archives_and_ioreg_a(archive: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "--json", str(archive)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accepted"] == report["attachments"] == 1
    plist = tmp_path / "registry.plist"
    assert main(["ioreg", "-a", "-l", "--machine", str(archive)]) == 0
    plist.write_text(capsys.readouterr().out)
    assert main(["conformance", str(plist)]) == 0
    assert "1/1 recorded bindings accepted" in capsys.readouterr().out


def test_a_broken_archive_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.ioreg"
    path.write_bytes(archive_bytes(small_machine())[:200])
    done = subprocess.run([sys.executable, "-m", "iokit_host", "boot", "--machine",
                           str(path)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "ioreg-archive-invalid" in done.stderr and str(path) in done.stderr
    assert "Traceback" not in done.stderr


def test_corpus_archive_boots(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archives = sorted((corpus / "archives").glob("*.ioreg"))
    if not archives:
        pytest.skip("no archives in the corpus")
    assert main(["boot", "--machine", str(archives[0])]) == 0
    assert "nubs" in capsys.readouterr().out
