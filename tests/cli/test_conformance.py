"""``iokit conformance``: text and JSON output, exit status, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iokit_host.cli import main
from tests.test_conformance import DUMP, VENDOR_DUMP


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
