"""stdout prints any name: bytes that are not UTF-8 go back out as they came in."""

from __future__ import annotations

import io
import os
import subprocess
import sys

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
