"""``iokit machine``: list, show and import, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iokit_host.cli import main
from iokit_host.machine import read_machine


def test_list_shows_the_default_and_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["machine", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("default") and "\nhost " in out


def test_show_prints_summary_and_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["machine", "show", "default"]) == 0
    out = capsys.readouterr().out
    assert "name:        default" in out
    assert "IOPCIDevice" in out
    assert "+-o ARPT@0  <class IOPCIDevice>" in out
    assert "+-o AppleACPIPCI  <class AppleACPIPCI, recorded driver>" in out


def test_show_json_is_for_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["machine", "show", "default", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "default" and info["classes"]["IOPCIDevice"] >= 8
    assert info["tree"]["class"] == "IOPlatformExpertDevice"


def test_show_an_unknown_machine_fails_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["machine", "show", "defualt"]) == 1
    assert "did you mean 'default'?" in capsys.readouterr().err


def test_import_writes_a_model_that_reads_back(corpus: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("iokit_host.ioreg_import")
    dump = corpus / "ioreg" / "khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IOReg.txt"
    out = tmp_path / "mbp.toml"
    assert main(["machine", "import", str(dump), "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    model = read_machine(out)
    assert any(n.name == "ARPT" for _, n in model.nubs())
