"""``iokit conformance``: text and JSON output, exit status, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from iokit_host.cli import main
from tests.test_conformance import DUMP, VENDOR_DUMP, _mccs_dump


@pytest.fixture()
def dump(tmp_path: Path) -> Path:
    path = tmp_path / "mini.txt"
    path.write_text(DUMP)
    return path


def test_text_output_lists_each_rejection_with_its_key(dump: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", str(dump)]) == 1
    out = capsys.readouterr().out
    assert f"{dump}: 2/4 recorded bindings accepted (recall 0.5000)" in out
    assert "key IOPCIClassMatch:" in out
    assert out.rstrip().endswith("total: 2/4 accepted, recall 0.5000")


def test_json_output(dump: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["conformance", str(dump), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert (data["attachments"], data["accepted"]) == (4, 2)
    assert data["dumps"][0]["file"] == str(dump)


def test_clean_dump_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tree.txt"
    path.write_text("+-o Root  <class IORegistryEntry, retain 1>\n"
                    "  +-o Mac  <class IOPlatformExpertDevice, retain 1>\n")
    assert main(["conformance", str(path)]) == 0
    assert "recall n/a" in capsys.readouterr().out


def test_bad_dump_reports_ioreg_dump_invalid(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a dump\n")
    assert main(["conformance", str(path)]) == 1
    assert "ioreg-dump-invalid" in capsys.readouterr().err


def test_classes_file_turns_a_rejection_into_an_acceptance(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "vendor.txt"
    dump.write_text(VENDOR_DUMP)
    classes = tmp_path / "classes.toml"
    classes.write_text('[classes]\nVendorDisk = "IOBlockStorageDevice"\n')
    assert main(["conformance", str(dump)]) == 1
    before = capsys.readouterr().out
    assert "1/2" not in before and "0/2 recorded bindings accepted" in before
    assert main(["conformance", "--classes", str(classes), str(dump)]) == 1
    out = capsys.readouterr().out
    assert "1/2 recorded bindings accepted" in out
    assert "VendorDisk/IOBlockStorageDriver" not in out
    assert "key IOProviderClass: provider OtherDisk (OtherDisk)" in out


def test_bad_classes_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "vendor.txt"
    dump.write_text(VENDOR_DUMP)
    classes = tmp_path / "classes.toml"
    classes.write_text("[classes]\nVendorDisk = 3\n")
    assert main(["conformance", "--classes", str(classes), str(dump)]) == 1
    assert "machine-model-wrong-type" in capsys.readouterr().err


def test_unreadable_dumps_are_entries_with_their_error_and_the_rest_is_measured(
        dump: Path, tmp_path: Path) -> None:
    garbage, empty, folder = tmp_path / "garbage.bin", tmp_path / "empty.txt", tmp_path / "dir"
    garbage.write_bytes(bytes(range(256)) * 20)
    empty.write_bytes(b"")
    folder.mkdir()
    bad = [garbage, empty, folder]
    command = [sys.executable, "-m", "iokit_host", "conformance", str(garbage), str(dump),
               str(empty), str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines if ": not read: " in line] == [
        str(path) for path in bad]
    assert f"{dump}: 2/4 recorded bindings accepted (recall 0.5000)" in lines
    assert lines[-1] == "total: 2/4 accepted, recall 0.5000, 3 dump(s) not read"
    assert done.stderr.count("error[ioreg-dump-invalid]") == 3
    as_json = subprocess.run([*command, "--json"], capture_output=True, text=True, check=False,
                             timeout=120)
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert [entry["file"] for entry in report["dumps"]] == [str(garbage), str(dump), str(empty),
                                                            str(folder)]
    assert [entry.get("error", {}).get("reference") for entry in report["dumps"]] == [
        "ioreg-dump-invalid", None, "ioreg-dump-invalid", "ioreg-dump-invalid"]
    assert (report["accepted"], report["attachments"], report["unreadable"]) == (2, 4, 3)


def test_a_damaged_dump_is_measured_with_its_warnings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "posted.txt"
    path.write_text("$ ioreg -lw0\n" + DUMP.replace("\n", "\r\n"), newline="")
    assert main(["conformance", str(path), "--json"]) == 1
    captured = capsys.readouterr()
    entry = json.loads(captured.out)["dumps"][0]
    assert (entry["accepted"], entry["attachments"]) == (2, 4)
    assert [w["reference"] for w in entry["warnings"]] == ["ioreg-dump-line-endings",
                                                           "ioreg-dump-noise"]
    assert "warning[ioreg-dump-noise]" in captured.err


def test_all_dumps_readable_and_accepted_exits_zero_even_with_warnings(
        tmp_path: Path) -> None:
    path = tmp_path / "tree.txt"
    path.write_text("\t+-o Root  <class IORegistryEntry, retain 1>\n"
                    "\t  +-o Mac  <class IOPlatformExpertDevice, retain 1>\n")
    assert main(["conformance", str(path)]) == 0


def test_a_path_given_as_undecodable_bytes_is_reported_printably(
        dump: Path) -> None:
    command = [sys.executable, "-m", "iokit_host", "conformance", "\udcff.txt", str(dump)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120,
                          errors="backslashreplace")
    assert done.returncode == 1 and "internal error" not in done.stderr
    assert done.stdout.startswith("\\xff.txt: not read: cannot read the dump: No such file")


def test_text_output_shows_each_rejections_category_and_where_ancestry_came_from(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "mccs.txt"
    dump.write_text(_mccs_dump("12C60"))
    assert main(["conformance", str(dump)]) == 1
    out = capsys.readouterr().out
    assert "[unknown-ancestry] key IOProviderClass: provider VendorThing (VendorThing)" in out
    ancestry = [line for line in out.splitlines() if line.startswith("  ancestry ")]
    assert any(line.startswith("  ancestry (1 binding): AppleHDAEngineOutput is an "
                               "IOAudioEngine (AppleHDAEngineOutput : AppleHDAEngine, archive "
                               "chain, ") for line in ancestry), ancestry
    main(["conformance", str(dump), "--json"])
    rejected = json.loads(capsys.readouterr().out)["dumps"][0]["rejected"]
    assert [r["category"] for r in rejected] == ["unknown-ancestry"]
