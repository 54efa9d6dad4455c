"""The one-loop value reader gives what the careful reader gives, or leaves the value to it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.values import OSNumber

from iokit_host.ioreg_import.errors import ValueSyntaxError
from iokit_host.ioreg_import.fastvalues import MAX_DEPTH, Unusual, fast_value
from iokit_host.ioreg_import.values import parse_value
from iokit_host.ioreg_import.values import read_carefully as careful

CORPUS = Path("/work/shared/corpus/ioreg")


def typed(value: Any) -> Any:
    """The value with every type made explicit (numbers' widths, sets against arrays)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, OSNumber):
        return ("number", int(value), value.bits)
    if isinstance(value, list):
        return ("array", [typed(v) for v in value])
    if isinstance(value, frozenset):
        return ("set", sorted(repr(typed(v)) for v in value))
    if isinstance(value, dict):
        return ("dict", [(k, typed(v)) for k, v in value.items()])
    return (type(value).__name__, value)


def _agrees(text: str) -> None:
    try:
        fast = fast_value(text)
    except Unusual:
        return  # the careful reader decides; nothing to compare
    assert typed(fast) == typed(careful(text)), text


@pytest.mark.parametrize("text", [
    '{"a"=1,"b"={"c"=No},"d"=(1,2)}', "[1,2]", '[{"a"=1}]', '<"pci106b,dc","pci8086,104">',
    "( 0x10 , < 00ff > , Yes )", '{"k"="v, with = and ) inside"}', '("",,"x")', "(,)",
    '( 1 , "a" )', '{ "k" = (Yes,No) }', '("a",1.5)', '("mac","00:1b:63")',
    '{"IOKitDiagnostics"={"Instance allocation"=123,"Container allocation"=0x0}}', "1.5",
    '<"a>b","c">', "{ }", "[ ]", "( )", "18446744073709551615",
])
def test_well_formed_values_read_as_the_careful_reader_reads_them(text: str) -> None:
    assert typed(fast_value(text)) == typed(careful(text))


@pytest.mark.parametrize("text", [
    "18446744073709551616", "0x10000000000000000", "{1=2}", '{("a")=1}', "(" * (MAX_DEPTH + 2),
    '"unterminated', "<abc>", "Yesterday", "(1 2)", '{"a" 1}', "<\"a\"", "12 34",
    "(true)", '{"a"=null}', "(-1)", "(1e5)", "(NaN)", "(-Infinity)", '{"a":1}',
])
def test_unusual_text_is_left_to_the_careful_reader(text: str) -> None:
    with pytest.raises(Unusual):
        fast_value(text)


def test_a_value_too_deep_still_gets_the_careful_readers_diagnostic() -> None:
    with pytest.raises(ValueSyntaxError, match="nested deeper"):
        parse_value("(" * (MAX_DEPTH + 2) + ")" * (MAX_DEPTH + 2))


_PIECES = st.sampled_from(['"a"', '"x, y"', '"q"w"', "1", "0x1F", "2.5", "Yes", "No", "<00ff>",
                           '<"s">', "(", ")", "[", "]", "{", "}", "=", ",", " ", "\t", "<",
                           ">", '"', "18446744073709551616", "XXXX"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_PIECES, max_size=14).map("".join))
def test_any_text_reads_the_same_or_is_left_to_the_careful_reader(text: str) -> None:
    _agrees(text)


def test_every_value_of_the_corpus_dumps_reads_the_same() -> None:
    dumps = sorted(CORPUS.glob("*.txt")) if CORPUS.is_dir() else []
    if not dumps:
        pytest.skip("the shared ioreg corpus is not here")
    line = re.compile(r'^[ |]*"(.*?)" = (.*)$')
    read = 0
    for dump in dumps:
        for text in dump.read_text(encoding="utf-8", errors="replace").splitlines():
            match = line.match(text)
            if match:
                _agrees(match.group(2))
                read += 1
    assert read > 10_000


# Plain containers (strings without syntax characters, numbers, Yes/No, no blanks)
# are read by the json module: the pieces below make them, and their near misses, often.
_PLAIN_PIECES = st.sampled_from(['"a"', '"Yes"', '"a:Yes"', '"\u00e9 b"', '""', "0", "01", "7",
                                 "4294967296", "18446744073709551616", "Yes", "No", "(", ")",
                                 "{", "}", "=", ",", '"k"=', '"t\tab"', '"b\\\\s"', "1.5",
                                 "0x1F", "0x", "0x0000000000000000001", "0x10000000000000000",
                                 "10x5", '"0x1"', "x", " ", "true", "false", "null", "NaN",
                                 "Infinity", "-1", "-0", "1e5", "2E3", "-", ":", '"a:b"',
                                 '"t"=', "\u00e9"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_PLAIN_PIECES, max_size=16).map(lambda pieces: "(" + "".join(pieces)))
def test_plain_containers_read_as_the_careful_reader_reads_them(text: str) -> None:
    _agrees(text)
    _agrees(text + ")")


# Strings that hold the syntax's own characters (a sentence, "47=0%", "pci14e4,4464"): the
# text is split at its strings before it becomes JSON. Their near misses: a quote inside a
# string, a word or hex number inside one, the mark that stands for a string, data.
_SYNTAX_STRINGS = st.sampled_from(['"47=0%"', '"a,b"', '"x(y)"', '"{k}"', '"a > b"', '"<"',
                                   '"=0x1f"', '"Yes,"', '",No)"', '"a"b"', '"a""b"', '"\x01"',
                                   "\x01", '"))"', '"=("', "<00ff>", '"t\tab="', '"b\\\\,"'])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PLAIN_PIECES, _SYNTAX_STRINGS), max_size=16)
       .map(lambda pieces: "(" + "".join(pieces)))
def test_containers_whose_strings_hold_syntax_read_as_the_careful_reader_reads_them(
        text: str) -> None:
    _agrees(text)
    _agrees(text + ")")
    _agrees("{" + text[1:] + "}")


@pytest.mark.parametrize("text", [
    '({"SFIAppNap"={"EffortCurve"="47=0%,69=67%"}},"pci14e4,4464")',
    '("MSDU successfully transmits >",{"Group"="Interrupt Statistics (by index)"})',
    '{"k"="a=0x1f","Yes,"=Yes,"v"=0x1f,"l"=("(",")")}',
])
def test_strings_holding_syntax_keep_it_and_the_rest_is_read_as_ever(text: str) -> None:
    assert typed(fast_value(text)) == typed(careful(text))


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 2])
def test_plain_nesting_at_the_depth_limit_reads_as_the_careful_reader_says(levels: int) -> None:
    for inner in ("", "1", '{"k"=Yes}'):
        text = "(" * levels + inner + ")" * levels
        try:
            expected = typed(careful(text))
        except ValueSyntaxError:
            with pytest.raises(ValueSyntaxError, match="nested deeper"):
                parse_value(text)
        else:
            assert typed(parse_value(text)) == expected
