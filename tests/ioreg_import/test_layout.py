"""Undoing a pasted dump's indentation: a uniform indent, tabs in the glyph columns."""

from __future__ import annotations

import re

import pytest

from iokit_host.ioreg_import.damage import DumpDamage
from iokit_host.ioreg_import.layout import normalise_layout

LINES = [
    "+-o Root  <class IORegistryEntry, retain 1>",
    "  | {",
    '  |   "a" = 1',
    "  | }",
    "  | ",
    "  +-o Mac  <class IOPlatformExpertDevice, retain 1>",
    "    | {",
    "    | }",
    "    | ",
    "    +-o A  <class IOService, retain 1>",
    "    | | {",
    '    | |   "s" = "two  spaces	and a tab"',
    "    | | }",
    "    | | ",
    "    | +-o B  <class IOService, retain 1>",
    "    |   +-o C  <class IOService, retain 1>",
    "    |       {",
    "    |       }",
    "    +-o D  <class IOService, retain 1>",
    "      +-o E  <class IOService, retain 1>",
    "        +-o F  <class IOService, retain 1>",
    "          {",
    '            "f" = 1',
    "          }",
]


def normalised(lines: list[str]) -> tuple[list[str], frozenset[str]]:
    damage = DumpDamage("d.txt", strict=False)
    return normalise_layout(lines, damage), damage.kinds()


def test_an_undamaged_dump_is_left_alone() -> None:
    assert normalised(LINES) == (LINES, frozenset())


@pytest.mark.parametrize("indent", ["\t", "    ", " ", "\t\t", "> ", ">> "])
def test_a_uniform_indent_is_removed(indent: str) -> None:
    lines, kinds = normalised([indent + line for line in LINES])
    assert lines == LINES and kinds == {"ioreg-dump-indent"}


def _lead(line: str) -> tuple[str, str]:
    match = re.match(r"[ |]*", line)
    assert match is not None
    return match.group(), line[match.end():]


@pytest.mark.parametrize(("width", "stops"), [(8, True), (4, True), (2, False), (4, False)])
def test_tabs_in_the_glyph_columns_are_read_at_the_width_that_fits(width: int,
                                                                   stops: bool) -> None:
    def tabify(line: str) -> str:
        lead, rest = _lead(line)
        if stops:  # an editor's tabify: tab stops, leading blanks only
            blanks = len(lead) - len(lead.lstrip(" "))
            return "\t" * (blanks // width) + " " * (blanks % width) + lead[blanks:] + rest
        return lead.replace(" " * width, "\t") + rest

    damaged = [tabify(line) for line in LINES]
    assert damaged != LINES
    lines, kinds = normalised(damaged)
    assert lines == LINES and kinds == {"ioreg-dump-indent"}


def test_a_string_continuation_starting_with_a_tab_is_not_touched() -> None:
    lines = [*LINES[:2], '  |   "s" = "first', "\tsecond\"", *LINES[3:]]
    assert normalised(lines) == (lines, frozenset())


def test_a_mail_quoted_dump_keeps_its_blank_lines_blank() -> None:
    quoted = ["> " + line if line.strip() else ">" for line in [*LINES[:5], "", *LINES[5:]]]
    lines, kinds = normalised(quoted)
    assert lines == [*LINES[:5], "", *LINES[5:]] and kinds == {"ioreg-dump-indent"}
