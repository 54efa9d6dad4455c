"""Output files: ``iokit machine import DUMP -o FILE`` with an ``-o`` that cannot be written
says which path and why, exits 1, and writes nothing; a good ``-o`` still works."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from iokit_host.cli import main
from iokit_host.cli.output_file import OutputError, write_text

READ_ONLY_PROC_FILE = Path("/proc/sys/kernel/osrelease")  # read-only even for root


@pytest.fixture
def dump(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """An ``ioreg -lw0`` dump of the default machine."""
    pytest.importorskip("iokit_host.ioreg_import")
    assert main(["ioreg", "-l", "-w0"]) == 0
    path = tmp_path / "default.txt"
    path.write_text(capsys.readouterr().out)
    return path


def _import(dump: Path, output: str | Path, capsys: pytest.CaptureFixture[str]
            ) -> tuple[int, str, str]:
    status = main(["machine", "import", str(dump), "-o", str(output)])
    out, err = capsys.readouterr()
    return status, out, err


def _unwritable(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Output paths that cannot be written, each with the reason the error must give."""
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    return {"missing folder": (tmp_path / "no" / "such" / "x.toml", "does not exist"),
            "a folder": (tmp_path, "it is a folder"),
            "parent is a file": (a_file / "x.toml", "is not a folder")}


@pytest.mark.parametrize("case", ["missing folder", "a folder", "parent is a file"])
def test_an_unwritable_output_names_the_path_and_the_reason(
        dump: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    output, reason = _unwritable(tmp_path)[case]
    before = sorted(tmp_path.rglob("*"))
    status, out, err = _import(dump, output, capsys)
    assert status == 1
    assert f"error[output-not-writable]: {output}: cannot write the output file" in err
    assert reason in err and "hint:" in err
    assert "Traceback" not in err and out == ""
    assert sorted(tmp_path.rglob("*")) == before


def test_a_read_only_file_is_refused(dump: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() != 0:
        target = tmp_path / "locked.toml"
        target.write_text("mine\n")
        target.chmod(0o444)
    elif READ_ONLY_PROC_FILE.exists():
        target = READ_ONLY_PROC_FILE  # root writes through file modes; not through /proc
    else:
        pytest.skip("running as root without /proc: no file is read-only")
    status, _, err = _import(dump, target, capsys)
    assert status == 1
    assert f"{target}: cannot write the output file" in err and "Traceback" not in err
    if target.parent == tmp_path:
        assert target.read_text() == "mine\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_failed_write_is_reported_with_its_reason(dump: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _import(dump, "/dev/full", capsys)  # every write: no space left
    assert status == 1
    assert "/dev/full: cannot write the output file: No space left on device" in err


def test_a_good_output_is_written(dump: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _import(dump, tmp_path / "m.toml", capsys)
    assert status == 0 and out.startswith(f"wrote {tmp_path / 'm.toml'}:")
    assert "[[nub]]" in (tmp_path / "m.toml").read_text()


def test_from_a_real_process(dump: Path, tmp_path: Path) -> None:
    output = tmp_path / "missing" / "x.toml"
    done = subprocess.run([sys.executable, "-m", "iokit_host", "machine", "import", str(dump),
                           "-o", str(output)], capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == 1
    assert f"{output}: cannot write the output file: the folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_write_text_raises_output_error_not_os_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as raised:
        write_text(tmp_path / "nope" / "x", "text")
    assert raised.value.ref == "output-not-writable"


def test_a_fifo_nobody_reads_is_refused_at_once_and_one_read_is_written(tmp_path: Path
                                                                        ) -> None:
    # open() waited for a reader: `iokit machine import DUMP -o FIFO` hung forever.
    import threading

    fifo = tmp_path / "model.toml"
    os.mkfifo(fifo)
    caught: list[BaseException] = []

    def write() -> None:
        try:
            write_text(fifo, "x = 1\n")
        except OutputError as error:
            caught.append(error)
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    writer.join(timeout=10)
    assert not writer.is_alive()
    assert caught and "a FIFO no process reads" in str(caught[0])
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # now someone reads it
    try:
        write_text(fifo, "x = 1\n")
        assert os.read(reader, 100) == b"x = 1\n"
    finally:
        os.close(reader)


def test_the_input_itself_as_output_is_refused_and_left_whole(
        dump: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `iokit machine import dump.txt -o dump.txt` replaced the only copy of the dump.
    before = dump.read_bytes()
    link = tmp_path / "link.txt"
    link.symlink_to(dump)
    for output in (dump, link):
        status, _, err = _import(dump, output, capsys)
        assert status == 1 and "error[output-is-input]" in err and "hint:" in err
    assert dump.read_bytes() == before


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_a_write_that_fails_half_way_leaves_the_old_file_as_it_was(dump: Path,
                                                                  tmp_path: Path) -> None:
    # The output was opened with O_TRUNC and written in place: a full disk left half a model
    # where the previous one had been. A file-size limit fails the write as a full disk does.
    output = tmp_path / "m.toml"
    output.write_text("previous model\n")
    output.chmod(0o640)

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    done = subprocess.run([sys.executable, "-m", "iokit_host", "machine", "import", str(dump),
                           "-o", str(output)], capture_output=True, text=True, check=False,
                          timeout=120, preexec_fn=small_files)
    assert done.returncode == 1 and "cannot write the output file" in done.stderr
    assert output.read_text() == "previous model\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    done = subprocess.run([sys.executable, "-m", "iokit_host", "machine", "import", str(dump),
                           "-o", str(output)], capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == 0 and "[[nub]]" in output.read_text()
    assert output.stat().st_mode & 0o777 == 0o640  # replaced, with the mode it had


@pytest.mark.parametrize("folder", [".", "/"])
def test_a_folder_given_as_both_input_and_output_is_said_to_be_a_folder(
        folder: str, capsys: pytest.CaptureFixture[str]) -> None:
    # `iokit machine import . -o .` (found by the CLI's hypothesis suite, as ''): the same
    # path twice, and a folder with no name to suggest a file beside, once raised ValueError.
    # (An empty path is a usage error of its own: tests/cli/test_input_path.py.)
    status = main(["machine", "import", folder, "-o", folder])
    _, err = capsys.readouterr()
    assert status == 1 and "internal error" not in err
    assert "error[output-not-writable]" in err and "it is a folder" in err
