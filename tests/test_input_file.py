"""Reading a file the user named: a FIFO nobody writes to, a folder or a huge file never makes
a command wait or fill memory; each ends in the reader's own diagnostic."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iokit_host.input_file import read_input_file, read_input_head

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


@needs_fifo
def test_a_fifo_nobody_writes_to_reads_as_empty_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    assert read_input_file(fifo, limit=100) == b""


def test_a_pipe_is_read_to_its_end() -> None:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"[[event]]\n")
        os.close(write_end)
        assert read_input_file(f"/dev/fd/{read_end}", limit=100) == b"[[event]]\n"
    finally:
        os.close(read_end)


def test_a_folder_and_a_file_too_large_are_os_errors_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as folder:
        read_input_file(tmp_path, limit=100)
    assert folder.value.filename == str(tmp_path)
    big = tmp_path / "big.plist"
    big.write_bytes(b"x" * 101)
    with pytest.raises(OSError) as large:
        read_input_file(big, limit=100)
    assert (large.value.errno, large.value.filename) == (errno.EFBIG, str(big))
    assert read_input_head(big, 10) == b"x" * 10


@needs_fifo
@pytest.mark.parametrize("argv", [["boot", "--only-kexts", "--events", "{fifo}"],
                                  ["boot", "--only-kexts", "--kext", "{fifo}"],
                                  ["kextstat", "--only-kexts", "--kext", "{fifo}"],
                                  ["kext", "inspect", "{fifo}"],
                                  ["machine", "import", "{fifo}", "-o", "{out}"],
                                  ["boot", "--only-kexts", "--machine", "{fifo}"],
                                  ["machine", "show", "{fifo}"],
                                  ["conformance", "--classes", "{fifo}", "{dump}"]])
def test_a_command_given_a_fifo_ends_with_its_diagnostic(argv: list[str],
                                                        tmp_path: Path) -> None:
    fifo = tmp_path / "input.fifo"
    os.mkfifo(fifo)
    dump = tmp_path / "dump.txt"
    dump.write_text("+-o Root  <class IORegistryEntry, id 0x100000100, retain 5>\n")
    args = [part.format(fifo=fifo, out=tmp_path / "out.toml", dump=dump) for part in argv]
    done = subprocess.run([sys.executable, "-m", "iokit_host", *args], capture_output=True,
                          text=True, check=False, timeout=60, cwd=tmp_path,
                          env={**os.environ, "IOKIT_NO_CACHE": "1"})
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    if "--events" not in argv and "--classes" not in argv:
        # an empty scenario or classes table is one; an empty manifest, model or dump is not
        assert str(fifo) in done.stdout + done.stderr
