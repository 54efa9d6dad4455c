"""A path the user gives (-M, --machine, -o, --kext) that the system cannot use is refused with
the system's own reason: a loop of symbolic links is ELOOP, not "unknown machine", "does not
exist" or "not a folder"."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from iokit_host.cli import main

_LOOPING = os.strerror(errno.ELOOP)  # "Too many levels of symbolic links"


@pytest.fixture()
def loop(tmp_path: Path) -> Path:
    path = tmp_path / "loop"
    path.symlink_to(path)
    return path


def _err(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    return err


@pytest.mark.parametrize("argv", [("ioreg", "-M"), ("boot", "--machine")])
@pytest.mark.parametrize("below", ["", "model.toml"])
def test_a_machine_path_that_loops_says_so(capsys: pytest.CaptureFixture[str], loop: Path,
                                           argv: tuple[str, ...], below: str) -> None:
    path = loop / below if below else loop
    err = _err(capsys, *argv, str(path))
    assert f"cannot read {path}: {_LOOPING}" in err
    assert "unknown machine" not in err


def test_an_import_into_a_folder_that_loops_says_so(
        capsys: pytest.CaptureFixture[str], loop: Path, tmp_path: Path) -> None:
    dump = tmp_path / "dump.txt"
    dump.write_text("+-o Root  <class IORegistryEntry, id 0x100000100, retain 11>\n")
    err = _err(capsys, "machine", "import", str(dump), "-o", str(loop / "m.toml"))
    assert f"cannot write the output file: {loop}: {_LOOPING}" in err
    assert "does not exist" not in err
    err = _err(capsys, "machine", "import", str(dump), "-o", str(loop))
    assert f"cannot write the output file: {_LOOPING}" in err


def test_a_kext_path_that_loops_says_so(capsys: pytest.CaptureFixture[str],
                                        loop: Path) -> None:
    main(["boot", "--kext", str(loop)])  # refused, and the machine boots without it
    assert f"cannot read loop: {_LOOPING}" in capsys.readouterr().err
