"""Importing a dump file: whatever the path names, a model or our own refusal, never a hang."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iokit_host import ioreg_import
from iokit_host.ioreg_import import IoregDumpInvalid, import_dump, looks_like_dump, parse_dump, tree

DUMP = ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
        "  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>\n")


def _refusal(path: Path) -> str:
    with pytest.raises(IoregDumpInvalid) as info:
        import_dump(path)
    assert info.value.diagnostic.file == str(path)
    return info.value.diagnostic.message


def test_a_folder_a_missing_file_and_an_empty_file_are_refused(tmp_path: Path) -> None:
    assert "a folder" in _refusal(tmp_path)
    assert "No such file" in _refusal(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_bytes(b"")
    assert "no entry lines" in _refusal(tmp_path / "empty.txt")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_nobody_writes_to_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "dump.fifo"
    os.mkfifo(fifo)
    assert "nobody writes to it" in _refusal(fifo)


@pytest.mark.skipif(not Path("/dev/fd").is_dir(), reason="no /dev/fd here")
def test_a_pipe_is_read_to_its_end() -> None:
    # What a shell passes for iokit machine import <(ssh mac ioreg -lw0) -o mac.toml
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, DUMP.encode())
        os.close(write_end)
        model = import_dump(f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
    assert model.root.name == "Mac"


def test_binary_garbage_is_refused_as_binary(tmp_path: Path) -> None:
    path = tmp_path / "dump.bin"
    path.write_bytes(bytes(range(256)) * 8)
    assert "binary data" in _refusal(path)


def test_bytes_and_text_give_the_same_model() -> None:
    assert parse_dump(DUMP.encode()) == parse_dump(DUMP)


def test_a_prompt_line_or_an_indent_before_the_dump_still_looks_like_a_dump() -> None:
    assert looks_like_dump("$ ioreg -lw0\n" + DUMP)
    assert looks_like_dump("".join("    " + line + "\n" for line in DUMP.splitlines()))
    assert not looks_like_dump('[machine]\nname = "x"\n')


def _repeated_entries(count: int) -> str:
    line = "    +-o Pasted  <class IOService, registered, matched, active, busy 0, retain 5>\n"
    return DUMP + line * count


def test_past_the_most_entries_a_registry_has_the_rest_is_not_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tree, "MAX_ENTRIES", 10)
    model = parse_dump(_repeated_entries(100), source="pasted.txt")
    assert sum(1 for _ in model.nubs()) == 9  # Root is the tenth entry read
    (warning,) = model.diagnostics
    assert (warning.reference, warning.key) == ("ioreg-dump-too-large", "line 11")
    assert "92 entry lines from here on were not read" in warning.message


def test_past_the_most_bytes_a_dump_has_the_rest_of_the_file_is_not_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ioreg_import, "MAX_DUMP_BYTES", 1000)
    path = tmp_path / "huge.txt"
    path.write_text(_repeated_entries(1000))
    model = import_dump(path)
    kept = sum(1 for _ in model.nubs())
    assert 0 < kept < 15
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-dump-too-large" and "larger than" in warning.message


def test_a_50_mb_file_of_repeated_lines_imports_quickly_in_bounded_memory(
        tmp_path: Path) -> None:
    dump, out = tmp_path / "pasted.txt", tmp_path / "pasted.toml"
    with dump.open("w") as handle:
        handle.write(_repeated_entries(640_000))  # 50 MB
    # VmHWM, not ru_maxrss: Linux starts a child's ru_maxrss at the forking process's peak.
    script = ("import sys\nfrom iokit_host.cli import main\n"
              "status = main(sys.argv[1:])\n"
              "print(next(line.split()[1] for line in open('/proc/self/status')\n"
              "           if line.startswith('VmHWM:')), file=sys.stderr)\n"
              "sys.exit(status)\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script, "machine", "import", str(dump),
                           "-o", str(out)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 20
    assert "warning[ioreg-dump-too-large]" in done.stderr
    assert int(done.stderr.split()[-1]) < 600_000  # KiB; it took 950 MB before the limit


@pytest.mark.parametrize("fmt", [plistlib.FMT_XML, plistlib.FMT_BINARY])
def test_an_ioreg_archive_is_refused_for_what_it_is(fmt: plistlib.PlistFormat,
                                                    tmp_path: Path) -> None:
    # `ioreg -a` output was refused as "no entry lines that can be read".
    path = tmp_path / "mac.ioreg"
    path.write_bytes(plistlib.dumps([{"IORegistryEntryName": "Root"}], fmt=fmt))
    assert "this is a property list (ioreg -a" in _refusal(path)


def test_a_huge_entry_name_is_quoted_short_in_its_warning() -> None:
    name = "N" * 100_000  # a line of a damaged or hostile dump
    model = parse_dump(f"+-o {name}  <class IOPlatformExpertDevice, id 0x100000100, registered, "
                       "matched, active, busy 0 (1 ms), retain 20>\n"
                       "  +-o Child  <class IOService, id 0x100000101, registered, matched, "
                       "active, busy 0 (0 ms), retain 5>\n", source="huge.txt")
    (warning,) = model.diagnostics
    assert warning.reference == "ioreg-dump-no-root"
    assert "'NNNN" in warning.message and len(str(warning)) < 600
