"""``iokit machine``: list, show and import, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def test_an_ioresources_subtree_dump_imports_to_a_model_that_reads_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `ioreg -r -c IOResources` imports with IOResources as the root; the model file written
    # from it was refused by its own reader ("IOResources must be a child of the root").
    pytest.importorskip("iokit_host.ioreg_import")
    assert main(["ioreg", "-r", "-c", "IOResources", "-l", "-w0"]) == 0
    dump = tmp_path / "resources.txt"
    dump.write_text(capsys.readouterr().out)
    out = tmp_path / "resources.toml"
    assert main(["machine", "import", str(dump), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["machine", "show", str(out)]) == 0
    assert "<class IOResources" in capsys.readouterr().out


def _damaged(lines: list[str], how: str) -> list[str]:
    if how == "shuffled":
        import random

        return random.Random(7).sample(lines, len(lines))
    if how == "every-7th-line-lost":
        return [line for i, line in enumerate(lines) if i % 7]
    return lines[len(lines) * 2 // 5:]  # the head cut off


@pytest.mark.parametrize("how", ["shuffled", "every-7th-line-lost", "head-cut-off"])
def test_whatever_a_damaged_dump_imports_to_reads_back(corpus: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       how: str) -> None:
    # An import that succeeds must write a model the model reader accepts.
    pytest.importorskip("iokit_host.ioreg_import")
    source = corpus / "ioreg" / "khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IORegDT.txt"
    dump = tmp_path / "damaged.txt"
    dump.write_text("\n".join(_damaged(source.read_text(errors="replace").split("\n"), how)))
    out = tmp_path / "damaged.toml"
    if main(["machine", "import", str(dump), "-o", str(out)]) != 0:
        # Refused (a shuffled device-tree dump starts at no IOService): said, nothing written.
        assert "nothing written" in capsys.readouterr().err and not out.exists()
        return
    capsys.readouterr()
    assert read_machine(out) is not None


POSTED_DUMP = """\
$ ioreg -lw0\r
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\r
  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>\r
    | {\r
    |   "IOPlatformSerialNumber" = "C02****"\r
    | }\r
    | \r
    +-o en0@0  <class IOEthernetInterface, id 0x100000112, registered, retain 4>\r
    |   {\r
    |     "IOMACAddress" = <3c07****c7a5>\r
    |     "IOMTU" = 1500\r
    |   }\r
    |   \r
    +-o IOResources  <class IOResources, id 0x100000113, registered, retain 4>\r
        {\r
          "IOKit" = "IOSer"""


def _iokit(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iokit_host", *args], capture_output=True,
                          text=True, check=False, timeout=120, env={**os.environ, **env})


def test_import_of_a_posted_dump_warns_once_per_damage_and_keeps_the_rest(
        tmp_path: Path) -> None:
    pytest.importorskip("iokit_host.ioreg_import")
    dump, out = tmp_path / "posted.txt", tmp_path / "posted.toml"
    dump.write_text(POSTED_DUMP, newline="")
    done = _iokit("machine", "import", str(dump), "-o", str(out), IOKIT_STRICT="0")
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if line.startswith("warning[")]
    assert [line.split("]")[0] for line in warned] == [
        "warning[ioreg-dump-line-endings", "warning[ioreg-dump-noise",
        "warning[ioreg-dump-redacted", "warning[ioreg-dump-truncated"]
    assert f"{dump}: line 5: redacted values" in done.stderr
    assert "Traceback" not in done.stderr
    model = read_machine(out)
    assert [n.name or n.class_name for _, n in model.nubs()] == ["Mac", "en0"]
    assert model.root.properties["IOPlatformSerialNumber"] == "C02****"


def test_strict_import_refuses_a_posted_dump_whole(tmp_path: Path) -> None:
    pytest.importorskip("iokit_host.ioreg_import")
    dump, out = tmp_path / "posted.txt", tmp_path / "posted.toml"
    dump.write_text(POSTED_DUMP, newline="")
    for done in (_iokit("machine", "import", str(dump), "-o", str(out), "--strict"),
                 _iokit("machine", "import", str(dump), "-o", str(out), IOKIT_STRICT="1"),
                 _iokit("boot", "--machine", str(dump), "--only-kexts", "--strict")):
        assert done.returncode == 1
        assert f"error[ioreg-dump-invalid]: {dump}: line 1:" in done.stderr
        assert not out.exists() and "Traceback" not in done.stderr


def test_booting_a_posted_dump_prints_its_warnings(tmp_path: Path) -> None:
    pytest.importorskip("iokit_host.ioreg_import")
    dump = tmp_path / "posted.txt"
    dump.write_text(POSTED_DUMP, newline="")
    done = _iokit("boot", "--machine", str(dump), "--only-kexts", IOKIT_STRICT="0",
                  IOKIT_NO_CACHE="1")
    assert done.returncode == 0, done.stderr
    assert "+-o en0@0" in done.stdout
    assert "warning[ioreg-dump-redacted]" in done.stderr
    ioreg = _iokit("ioreg", "--machine", str(dump), "--only-kexts", IOKIT_STRICT="0",
                   IOKIT_NO_CACHE="1")
    assert ioreg.returncode == 0 and "warning[ioreg-dump-truncated]" in ioreg.stderr
    assert "warning" not in ioreg.stdout
