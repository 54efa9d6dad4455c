"""A ``--machine`` file is told by its structure: a dump whose first entry comes late, UTF-16
without a mark, a model quoting a dump, a property list whatever its name."""

from __future__ import annotations

import codecs
import os
import plistlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.errors import IOKitError
from iokit_host.machine.loader import load_machine
from iokit_host.machine.sniff import file_kind, kind_of_head

DUMP = ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
        "  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>\n"
        "    +-o PCI0@0  <class IOPCIDevice, id 0x100000111, registered, retain 4>\n")


def test_dump_whose_first_entry_follows_a_huge_block_is_a_dump(tmp_path: Path) -> None:
    head = "$ ioreg -lw0\n" + "".join(f'    "k{i}" = "{"x" * 200}"\n' for i in range(2000))
    path = tmp_path / "late.txt"
    path.write_text(head + DUMP)
    assert path.stat().st_size > 300_000
    assert file_kind(path) == "dump"
    assert load_machine(path).root.children[0].name == "PCI0"


def test_utf16_dump_without_its_mark_is_a_dump(tmp_path: Path) -> None:
    for codec in ("utf-16-le", "utf-16-be"):
        path = tmp_path / f"{codec}.txt"
        path.write_bytes(DUMP.encode(codec))
        assert file_kind(path) == "dump"
    path = tmp_path / "bom.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + DUMP.encode("utf-16-le"))
    assert file_kind(path) == "dump"


def test_model_that_quotes_a_dump_is_a_model(tmp_path: Path) -> None:
    text = ('[machine]\nname = "m"\n\n[[nub]]\nclass = "IOPlatformExpertDevice"\n'
            '[nub.properties]\nnote = """\n' + DUMP + '"""\n')
    path = tmp_path / "m.toml"
    path.write_text(text)
    assert file_kind(path) == "model"
    assert load_machine(path).name == "m"


def test_property_lists_are_told_by_their_first_bytes(tmp_path: Path) -> None:
    assert kind_of_head(plistlib.dumps({"a": 1}, fmt=plistlib.FMT_BINARY)) == "plist"
    assert kind_of_head(b"\xef\xbb\xbf\n  " + plistlib.dumps({"a": 1})) == "plist"
    assert kind_of_head(codecs.BOM_UTF16_LE + "<?xml".encode("utf-16-le")) == "plist"


def test_a_cut_first_look_waits_for_more() -> None:
    assert kind_of_head(b'x = "' + b"a" * 100, complete=False) is None
    assert kind_of_head(b"[machine]\n", complete=False) == "model"


PIECES = st.sampled_from([b"+-o ", b"[machine]\n", b"[[nub]]", b"\n", b"\0", b"  | ", b"<class ",
                          b"bplist00", b"<?xml", b"\xef\xbb\xbf", b"\xff\xfe", b"# c\n", b"x",
                          b" ", b"[", b"]", b"\r"])


@settings(max_examples=200, deadline=None)
@given(st.lists(PIECES, max_size=40), st.booleans())
def test_any_head_has_one_kind(
        pieces: list[bytes], complete: bool) -> None:
    head = b"".join(pieces)
    kind = kind_of_head(head, complete=complete)
    assert kind in ("model", "dump", "plist") or (kind is None and not complete)


@settings(max_examples=100, deadline=None)
@given(st.lists(PIECES, max_size=40))
def test_loading_any_such_file_gives_only_our_errors(tmp_path_factory: pytest.TempPathFactory,
                                                     pieces: list[bytes]) -> None:
    path = tmp_path_factory.mktemp("sniff") / "machine"
    path.write_bytes(b"".join(pieces))
    try:
        load_machine(path)
    except IOKitError:
        pass


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_pipe_is_a_dump_told_without_reading_it(tmp_path: Path) -> None:
    """A look at a pipe's start would take it from its reader, which then read only the rest
    (`iokit machine import <(cat dump)` wrote 107 of 667 nubs, exit 0)."""
    fifo = tmp_path / "dump"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)  # holds it open; nothing read from it may be lost
    try:
        os.write(writer, b"+-o Root  <class IORegistryEntry, id 0x100000100, retain 9>\n")
        assert file_kind(fifo) == "dump"
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            assert os.read(reader, 100).startswith(b"+-o Root")
        finally:
            os.close(reader)
    finally:
        os.close(writer)


@pytest.mark.parametrize("markup", ["[code]", "[quote]", "[spoiler]", "[CODE]", "[ code ]"])
def test_a_dump_pasted_inside_forum_markup_is_a_dump(tmp_path: Path, markup: str) -> None:
    # A dump copied out of a forum post keeps its [code] ... [/code]: the opening line was
    # taken for a TOML table header, and the dump read as a broken model.
    path = tmp_path / "pasted.txt"
    path.write_text(f"{markup}\n{DUMP}[/code]\n")
    assert file_kind(path) == "dump"
    assert load_machine(path).name


@pytest.mark.parametrize("header", ["[machine]", "[[nub]]", "[[ nub ]]", '[ "machine" ]',
                                    "[nub.properties]", "[[entry]]", "[root-properties]",
                                    "[classes]  # ancestry"])
def test_a_models_table_header_before_any_entry_makes_a_model(header: str) -> None:
    assert kind_of_head(f"{header}\n{DUMP}".encode()) == "model"


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"\A\[\[?\s*[A-Za-z0-9_.\"' -]{1,12}\s*\]\]?\Z"))
def test_a_bracketed_line_that_is_no_models_table_leaves_a_dump_a_dump(line: str) -> None:
    # [code], [quote], [ spoiler ] ... before a dump: a dump (a model's tables, whose first
    # key is machine, classes, root-properties, nub or entry, are tested above).
    head = line.strip("[] \t\"'").split(".")[0].strip(" \t\"'")
    if head not in ("machine", "classes", "root-properties", "nub", "entry"):
        assert kind_of_head(f"{line}\n{DUMP}".encode()) == "dump"
