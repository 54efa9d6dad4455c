"""Redaction marks: what people mask before posting a dump, and what ioreg never prints."""

from __future__ import annotations

import re

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
