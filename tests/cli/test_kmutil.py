"""``iokit kmutil create`` writes the kernel collection; ``showloaded`` prints like kextstat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iokit_host.cli import main


def test_create_writes_a_collection_a_boot_then_uses(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from iokit_host.kext.discovery import discover

    assert main(["kmutil", "create", "--cache-dir", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert Path(report["path"]).is_file() and report["written"]
    assert discover(cache_dir=tmp_path).cache_status == "fresh"


def test_create_replaces_a_damaged_collection(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from iokit_host.kext import collection
    from iokit_host.kext.discovery import discover

    target = collection.collection_path(tmp_path)
    target.write_bytes(b'{"format": 2, "key": []}')
    found = discover(cache_dir=tmp_path)  # a boot rebuilds it, and says why
    assert found.cache_status == "rebuilt"
    assert "kernel-collection-invalid" in [d.reference for d in found.diagnostics]
    target.write_bytes(b"\x00garbage")
    assert main(["kmutil", "create", "--cache-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["written"]
    assert discover(cache_dir=tmp_path).cache_status == "fresh"


def test_create_unwritable_fails_loudly(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["kmutil", "create", "--cache-dir", str(blocker / "x")]) == 1
    # an error, not a warning: the command failed at what it is for (it said "warning" and
    # exited 1)
    assert "iokit kmutil: error[kernel-collection-unwritable]: " in capsys.readouterr().err


def test_showloaded_matches_kextstat(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IOKIT_NO_CACHE", "1")
    assert main(["kmutil", "showloaded"]) == 0
    shown = capsys.readouterr().out
    assert main(["kextstat"]) == 0
    assert capsys.readouterr().out == shown
    assert shown.splitlines()[0].startswith("Index Refs Address")
