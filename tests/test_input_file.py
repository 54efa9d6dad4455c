"""Reading a file the user named: a FIFO nobody writes to, a folder or a huge file never makes
a command wait or fill memory; each ends in the reader's own diagnostic."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iokit_host.input_file import (
    decode_text,
    read_cache_file,
    read_input_file,
    read_input_head,
    undecodable_place,
)

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


@needs_fifo
def test_a_fifo_nobody_writes_to_is_refused_at_once_not_read_as_empty(tmp_path: Path) -> None:
    """An empty read would pass for an empty file: no events, an empty entitlement policy."""
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="nobody writes to it") as caught:
        read_input_file(fifo, limit=100)
    assert caught.value.filename == str(fifo)


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


def test_an_empty_path_is_a_missing_file_that_says_it_is_empty() -> None:
    """A scenario read from code (``read_events("")``) says why, not only "No such file"."""
    with pytest.raises(FileNotFoundError, match="an empty path names no file"):
        read_input_file("", limit=100)


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


# -- cache files: only what the host itself can have written is read ------------------------
@needs_fifo
def test_a_fifo_at_a_cache_name_is_refused_at_once(tmp_path: Path) -> None:
    # Every command hung: the kernel collection and the model cache were read with open().
    fifo = tmp_path / "kernel-collection-x.json"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file") as caught:
        read_cache_file(fifo, limit=100)
    assert caught.value.filename == str(fifo)


def test_a_symlink_at_a_cache_name_is_not_followed(tmp_path: Path) -> None:
    # A link to /dev/zero filled memory; a link anywhere reads what its maker chose.
    real = tmp_path / "real.json"
    real.write_text("{}")
    link = tmp_path / "machine-x.json"
    link.symlink_to(real)
    with pytest.raises(OSError, match="symbolic link"):
        read_cache_file(link, limit=100)
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    with pytest.raises(OSError):
        read_cache_file(zero, limit=100)


def test_a_cache_too_large_or_a_folder_is_refused_without_reading_it(tmp_path: Path) -> None:
    sparse = tmp_path / "big.json"
    with open(sparse, "wb") as stream:
        stream.truncate(2 << 30)  # sparse: no disk, but reading it would take 2 GB of memory
    with pytest.raises(OSError, match="larger than"):
        read_cache_file(sparse, limit=1 << 20)
    with pytest.raises(OSError):
        read_cache_file(tmp_path, limit=100)
    (tmp_path / "ok.json").write_bytes(b"{}")
    assert read_cache_file(tmp_path / "ok.json", limit=100) == b"{}"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a file to another user needs root")
def test_a_cache_written_by_another_user_is_not_trusted(tmp_path: Path) -> None:
    forged = tmp_path / "kernel-collection-x.json"
    forged.write_text("{}")
    os.chown(forged, 65534, 65534)
    with pytest.raises(OSError, match="another user"):
        read_cache_file(forged, limit=100)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-16-le"])
def test_text_with_a_byte_order_mark_or_none_decodes(encoding: str) -> None:
    text = '[machine]\nname = "ü"\n'
    data = text.encode(encoding)
    if encoding in ("utf-16-be", "utf-16-le"):
        data = ("\ufeff" + text).encode(encoding)  # Notepad's "Unicode": a BOM, then UTF-16
    assert decode_text(data) == text


def test_the_place_of_a_byte_that_is_not_utf8_is_line_and_column() -> None:
    data = b'[machine]\nname = "\xc3\x28"\n'
    with pytest.raises(UnicodeDecodeError) as caught:
        decode_text(data)
    assert undecodable_place(data, caught.value).startswith("byte 0xc3 at line 2, column 9")
