"""Redaction marks: what people mask before posting a dump, and what ioreg never prints."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.ioreg_import.redaction import looks_masked, looks_redacted

#: The marks as one search (the module finds them faster, starting only where one can).
_MARKS = re.compile(r"\*{3,}|[xX]{4,}|(?:[xX]{2}[:-]){2,}[xX]{2}")


@pytest.mark.parametrize("text", ['"C02****"', "<3c07****c7a5>", "XXXX", '"C02XXXXXXXX"',
                                  '{"serial"="xxxx"}'])
def test_masks_are_recognised(text: str) -> None:
    assert looks_redacted(text)


@pytest.mark.parametrize("text", ['"C02X4"', "<3c0754c7a5>", "0x1234", '"a*b"', '"**"',
                                  '"Apple Inc."'])
def test_ordinary_values_are_not_redacted(text: str) -> None:
    assert not looks_redacted(text)


@pytest.mark.parametrize("text", ['"XX:XX:XX:XX:XX:XX"', '"<redacted>"', '"[REMOVED]"', '"..."',
                                  '"\u2026"', '"(hidden)"', "<00:1c:42:xx:xx:xx>"])
def test_other_masks_of_a_readable_value_are_recognised(text: str) -> None:
    assert looks_redacted(text)


@pytest.mark.parametrize("text", ['"Loading..."', '"Removed by user"', '"Hidden Network"',
                                  '"0x1c42"', '"xx"'])
def test_strings_that_merely_mention_a_mask_word_are_not_redacted(text: str) -> None:
    assert not looks_redacted(text)


@pytest.mark.parametrize("text", ["<redacted>", "[REMOVED]", "REDACTED", "<...>", "...", "###",
                                  "<3c07----c7a5>", "*", "(redacted)", "{hidden}", "XX:XX:XX"])
def test_values_that_cannot_be_read_and_were_masked_are_told_apart(text: str) -> None:
    assert looks_masked(text)


@pytest.mark.parametrize("text", ["(1 2)", "<abc>", "maybe", '{"a"=1'])
def test_plain_malformed_values_are_not_masked(text: str) -> None:
    assert not looks_masked(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="xX*:-a\" ", max_size=24))
def test_a_mark_anywhere_in_a_value_makes_it_redacted(text: str) -> None:
    value = f"<{text}>"  # not a string: only the marks can make it redacted
    assert looks_redacted(value) == (_MARKS.search(value) is not None), value


#: What looks_masked looked for as one pattern, a lone star among filler last (the module
#: tells that one without a pattern: tried from every star, it was quadratic).
_FILLER = re.compile(r"redacted|removed|hidden|censored|private|anonymi[sz]ed|snip|omitted|"
                     r"deleted|\.{3}|\u2026|#{3,}|-{3,}|\?{3,}|^\W*\*\W*$", re.IGNORECASE)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="* \t\n.#-?,;!<>()a_9x\u00e9\u2026", max_size=24))
def test_filler_and_a_lone_star_are_masked_as_the_one_pattern_said(text: str) -> None:
    expected = looks_redacted(text) or _FILLER.search(text) is not None
    assert looks_masked(text) == expected, text


def test_a_value_of_stars_and_blanks_is_told_in_linear_time() -> None:
    # The pattern tried the rest of the value from every star: 80 KB took 18 s.
    started = time.process_time()
    assert looks_masked("* " * 400_000 + "x") is False
    assert looks_masked("* " * 400_000) is True
    assert time.process_time() - started < 5
