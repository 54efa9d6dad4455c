"""The driver process's main (:mod:`iokit_host.dext.server`): the options the kernel passes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.dext.server import _arguments


def test_the_kernels_options_are_read_in_either_spelling() -> None:
    found = _arguments(["--fd", "7", "--life-fd=8", "--name", "com.example.Dext",
                        "--package", ""])
    assert found == {"--fd": "7", "--life-fd": "8", "--name": "com.example.Dext",
                     "--package": ""}
    assert _arguments(["--fd", "3", "--life-fd", "4", "--name", "x"])["--package"] == ""


@pytest.mark.parametrize(("argv", "said"), [
    (["--fd", "3", "--life-fd", "4"], "required: --name"),
    (["--fd", "x", "--life-fd", "4", "--name", "n"], "--fd: invalid int value"),
    (["--fd=+-3", "--life-fd", "4", "--name", "n"], "--fd: invalid int value"),
    (["--fd", "3", "--life-fd", "4", "--name"], "--name: expected one argument"),
    (["--fd", "3", "--life-fd", "4", "--name", "n", "--bogus", "1"], "unrecognized"),
])
def test_a_process_started_wrongly_says_how_and_exits_2(argv: list[str], said: str) -> None:
    done = subprocess.run([sys.executable, "-m", "iokit_host.dext.server", *argv],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: python -m iokit_host.dext.server")
    assert said in done.stderr
    assert "Traceback" not in done.stderr


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["--fd", "--life-fd", "--name", "--package", "3",
                                           "--fd=", "--fd=+-3", "-1", "٣"]),
                          st.text(max_size=8)), max_size=10))
def test_any_options_are_read_or_refused_with_a_reason(argv: list[str]) -> None:
    try:
        found = _arguments(argv)
    except ValueError as error:
        assert str(error)
        return
    # Accepted options are ones main can use: both descriptors are numbers, a name is given.
    int(found["--fd"]), int(found["--life-fd"])
    assert "--name" in found
