"""Fuzzing the dump parser: whatever the text, only the project's own error may escape."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.ioreg_import import IoregDumpInvalid, parse_dump
from iokit_host.ioreg_import.errors import ValueSyntaxError
from iokit_host.ioreg_import.values import parse_value

HEADER = "+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
PIECES = st.sampled_from([*'+-o |{}()[]<>",=@:!xX0123456789abcdefYN\n\t\u00e9', "Yes", "No",
                          "+-o ", "  | ", "retain 1", "id 0x1", "  <class IOService, retain 1>",
                          '"key" = ', "\n  +-o A  <class IOService, id 0x100000111, retain 1>"])


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=80))
def test_any_text_parses_or_raises_dump_invalid(pieces: list[str]) -> None:
    try:
        parse_dump(HEADER + "".join(pieces))
    except IoregDumpInvalid:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_unicode_parses_or_raises_dump_invalid(text: str) -> None:
    try:
        parse_dump(text)
    except IoregDumpInvalid:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(list('"{}()[]<>=,0123456789abcdefxYesNo *')), max_size=120))
def test_value_reader_raises_only_its_syntax_error(text: str) -> None:
    try:
        parse_value(text)
    except ValueSyntaxError:
        pass
