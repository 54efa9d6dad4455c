"""Fuzzing the ``iokit`` command line: whatever the arguments, only our own diagnostics.

Each example is an argv drawn from the real subcommands and their real flags (read from the
parsers the commands configure, so a new flag is fuzzed without touching this file), with
values that are junk, paths of every kind (missing, a folder, empty, binary, valid) or real
names. It runs in-process through :func:`iokit_host.cli.main`, in a scratch folder, against
the small built-in default machine: the exit status is 0, 1 or argparse's 2, and stderr never
carries the last resort's ``internal error`` or a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import sys
from collections.abc import Iterator

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from iokit_host.cli import COMMANDS, main

from .conftest import WIFI_MACHINE

#: Free text, without what no real argv holds (NUL) and without '/' so that junk stays a
#: relative path inside the scratch folder (``iokit new X -o /junk`` would write to /).
JUNK = st.text(st.characters(exclude_characters="\x00/", exclude_categories=["Cs"]),
               max_size=12)
NAMES = ["default", "host", "ARPT", "ARPT@0", "IOService:/", "IOPCIDevice", "IOResources",
         "com.example.driver.BCM43xx", "org.iokit-host.builtin", "acme-keyboard", "x",
         "-1", "0", "3", "99999999999999999999999", "0x10", "NAME=VALUE", "=", "x=",
         "id_vender=1", "probe_score=abc", "pci_match=0xZZ", "provider_class=IOPCIDevice",
         "\udcff", "", " ", "--", "-", ".", "/dev/null"]

#: Commands that serve until signalled rather than return (tests/server starts them as
#: processes and stops them).
SERVES = frozenset({"kernel", "explore"})


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A scratch working folder with files of every kind, and the cache kept inside it."""
    root = tmp_path_factory.mktemp("cli-fuzz")
    files = {"missing": root / "missing" / "x.toml", "folder": root / "folder",
             "empty": root / "empty.toml", "binary": root / "binary.plist",
             "machine": root / "machine.toml", "events": root / "events.toml",
             "dump": root / "dump.txt", "plist": root / "Info.plist"}
    files["folder"].mkdir()
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(bytes(range(256)) * 4)
    files["machine"].write_text(WIFI_MACHINE)
    files["events"].write_text('[[event]]\naction = "unplug"\npath = "ARPT"\n')
    files["plist"].write_text('<?xml version="1.0"?><plist version="1.0"><dict>'
                              "<key>CFBundleIdentifier</key><string>com.acme.x</string>"
                              "</dict></plist>")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("IOKIT_CACHE_DIR", str(root / "cache"))
        patch.delenv("IOKIT_STRICT", raising=False)
        dump = io.StringIO()
        with contextlib.redirect_stdout(dump):
            assert main(["ioreg", "-l", "-w0"]) == 0
        files["dump"].write_text(dump.getvalue())
        yield {name: str(path) for name, path in files.items()}


def _parser(command: str) -> argparse.ArgumentParser:
    module = importlib.import_module(COMMANDS[command][0])
    parser = argparse.ArgumentParser(prog=f"iokit {command}")
    module.configure(parser)
    return parser


def _chance(draw: st.DrawFn, percent: int) -> bool:
    return draw(st.integers(0, 99)) < percent


@st.composite
def _argv_for(draw: st.DrawFn, parser: argparse.ArgumentParser,
              values: st.SearchStrategy[str]) -> list[str]:
    """Mostly well-formed command lines (so that the commands run), now and then not."""
    argv: list[str] = []
    for action in parser._actions:  # argparse's own table of what the parser takes
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            choices = sorted(action.choices)
            name = draw(st.sampled_from(choices)) if _chance(draw, 90) else draw(JUNK)
            argv.append(name)
            if name in action.choices:
                argv += draw(_argv_for(action.choices[name], values))
            continue
        if not action.option_strings:  # a positional: given once, now and then not or twice
            count = draw(st.sampled_from([1, 1, 1, 1, 1, 1, 0, 2]))
            argv += [draw(values) for _ in range(count)]
            continue
        if not _chance(draw, 30):
            continue
        argv.append(draw(st.sampled_from(action.option_strings)))
        if action.nargs != 0 and _chance(draw, 90):
            argv.append(draw(values))
    return argv


@st.composite
def _argv(draw: st.DrawFn, files: dict[str, str]) -> list[str]:
    values = st.sampled_from([*NAMES, *files.values()]) | JUNK
    if _chance(draw, 10):
        command = draw(st.sampled_from(["--help", "-h", "--version", "bot", ""]) | JUNK)
        return [command, *draw(st.lists(values, max_size=2))]
    command = draw(st.sampled_from(sorted(set(COMMANDS) - SERVES)))
    rest = draw(_argv_for(_parser(command), values))
    if _chance(draw, 20):
        rest = draw(st.permutations(rest))  # options after positionals, and so on
    return [command, *rest]


@contextlib.contextmanager
def _captured() -> Iterator[tuple[io.TextIOWrapper, io.StringIO]]:
    """stdout with a byte buffer (``ioreg -a`` writes bytes), stderr, and no terminal on stdin
    so that ``iokit new`` never prompts."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    err = io.StringIO()
    stdin = sys.stdin
    sys.stdin = io.StringIO("")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield out, err
    finally:
        sys.stdin = stdin


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_command_line_ends_in_our_own_diagnostics(scratch: dict[str, str],
                                                      data: st.DataObject) -> None:
    argv = data.draw(_argv(scratch), label="argv")
    with _captured() as (_, err):
        status = main(argv)
    stderr = err.getvalue()
    event(f"{argv[0] if argv and argv[0] in COMMANDS else 'junk'} exits {status}")
    assert status in (0, 1, 2), (argv, status, stderr)
    assert "internal error" not in stderr, (argv, stderr)
    assert "Traceback" not in stderr, (argv, stderr)
