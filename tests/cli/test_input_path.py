"""A device given where a command reads a file is refused while parsing the arguments:
reading ``/dev/zero`` would never end (it would fill memory), ``/dev/tty`` waits for a key."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from iokit_host.cli import main

ZERO = Path("/dev/zero")
pytestmark = pytest.mark.skipif(not ZERO.exists(), reason="needs /dev/zero")


@pytest.mark.parametrize("argv", [
    ["boot", "--kext", "/dev/zero"], ["boot", "--events", "/dev/zero"],
    ["ioreg", "--machine", "/dev/zero"], ["kextstat", "--kext", "/dev/zero"],
    ["kext", "inspect", "/dev/zero"], ["conformance", "--classes", "/dev/zero", "x.txt"],
    ["conformance", "/dev/zero"], ["machine", "show", "/dev/zero"],
    ["machine", "import", "/dev/zero", "-o", "x.toml"],
    ["kernel", "--entitlements", "/dev/zero"]])
def test_a_device_is_a_usage_error_naming_it(argv: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "/dev/zero is a device, not a file: reading it would never end" in \
        capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["boot", "--events", ""], ["pmset", "-g", "log", "--events", ""], ["event", ""],
    ["boot", "--kext", ""], ["ioreg", "--machine", ""], ["machine", "show", ""],
    ["conformance", "--classes", "", "x.txt"], ["kernel", "--entitlements", ""]])
def test_an_empty_path_is_a_usage_error_not_the_option_left_out(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # ``--events ""`` (an unset variable in a script) once booted with no scenario at all
    assert main(argv) == 2
    assert "an empty path names no file" in capsys.readouterr().err


def test_dev_null_is_an_empty_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["boot", "--events", os.devnull]) == 0
    assert "internal error" not in capsys.readouterr().err


def _limit_memory() -> None:
    limit = 1 << 30  # 1 GiB of address space: a read of /dev/zero fails fast, not the machine
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_in_a_real_process_nothing_is_read(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "iokit_host", "boot", "--kext", str(ZERO)],
                          capture_output=True, text=True, check=False, timeout=120,
                          preexec_fn=_limit_memory, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "is a device, not a file" in done.stderr and "Traceback" not in done.stderr
