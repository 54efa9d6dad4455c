"""stdout prints any name: bytes that are not UTF-8 go back out as they came in."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from importlib import resources
from pathlib import Path

from iokit_host.cli.console import tolerate_any_text


def test_a_name_that_is_not_utf8_prints_as_its_bytes() -> None:
    # A UTF-8 desktop locale gives Python a strict stdout (C.UTF-8 would not); say so outright.
    environ = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run([sys.executable.encode(), b"-m", b"iokit_host", b"kext", b"inspect",
                           b"caf\xe9"], env=environ, capture_output=True, check=False,
                          timeout=120)
    assert done.returncode == 1  # no such kext, and said so
    assert done.stdout.startswith(b"caf\xe9: refused\n")
    assert b"Traceback" not in done.stderr and b"internal error" not in done.stderr


def test_what_the_encoding_lacks_is_escaped() -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    tolerate_any_text(stream)
    stream.write("caf\udce9 \u2014 ok")
    stream.flush()
    assert stream.buffer.getvalue() == b"caf\xe9 \\u2014 ok"


def _machine_named(tmp_path: Path, name: str) -> Path:
    """The default machine, with its platform device renamed to ``name`` (TOML escapes)."""
    source = (resources.files("iokit_host.machine") / "builtin" / "default.toml").read_text()
    path = tmp_path / "renamed.toml"
    path.write_text(source.replace('name = "MacBookPro8,2"', f'name = "{name}"', 1))
    return path


def _boot_on_terminal(machine: Path) -> bytes:
    """What ``iokit boot --machine`` writes when its stdout is a terminal (a pseudo-terminal)."""
    main, side = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "iokit_host", "boot", "--machine",
                               str(machine)], stdout=side, stderr=subprocess.PIPE,
                              check=False, timeout=120)
        os.close(side)
        side = -1
        assert done.returncode == 0, done.stderr
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(main)
        if side >= 0:
            os.close(side)


def test_a_names_escape_codes_do_not_reach_a_terminal(tmp_path: Path) -> None:
    machine = _machine_named(tmp_path, "\\u001b]0;owned\\u0007\\u202eKooB\\u001b[2J")
    shown = _boot_on_terminal(machine)
    assert b"\x1b" not in shown and b"\x07" not in shown and "\u202e".encode() not in shown
    assert b"\\x1b]0;owned\\x07\\u202eKooB\\x1b[2J  <class IOPlatformExpertDevice" in shown


def test_a_pipe_still_gets_the_name_as_it_is(tmp_path: Path) -> None:
    machine = _machine_named(tmp_path, "\\u001b[31mred")
    done = subprocess.run([sys.executable, "-m", "iokit_host", "boot", "--machine", str(machine)],
                          capture_output=True, check=True, timeout=120)
    assert b"+-o \x1b[31mred  <class IOPlatformExpertDevice" in done.stdout
