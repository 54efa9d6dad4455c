"""Benchmark: reading real ``ioreg -l`` dumps (the shared corpus) into machine models.

Baseline, measured in the same run, interleaved round by round, in CPU time
(tests/bench/timing.py): one regular-expression pass over the dump's lines that recognises
entry lines and ``"key" = value`` lines, which any reader must at least do.

Target: each dump within 4x that pass. Reached on the two small dumps (3.6-4.0x, up to 4.2x
under more load; 46-112 KiB; from 5.7-6.0x), not on the four large ones (xfail, ratios
printed; 0.4-1.3 MB: MacBookPro8,2 5.2x, its device tree 4.9-5.1x, iMac13,2 5.5-5.8x,
MacMini3,1 6.4-6.8x; from 7.8-11.2x).
A line of a common shape is now told by one regular expression (fastlines; a 20-digit number,
2**64 - 1 on every HID element's line, included), and plain containers, hex numbers
included, go through the json module's C parser, split at their strings first when a string
holds the syntax's characters (a sentence, ``47=0%``: 10-15% off newer Macs' dumps). Over 75
held-out DarwinDumped dumps the median is 5.6x, nine in ten within 8.6x.
Where the time goes, in units of the baseline pass (MacBookPro8,2 / MacMini3,1): reading and
decoding the file 0.2 / 0.4, splitting the lines 0.25 / 0.35, the entries' NubSpecs and the
folding of re-printed entries 0.7 / 0.7, and the tree 4.0 / 5.3, of which the containers are
2.1 / 3.4 (the plain test alone 0.5 / 0.8, then the JSON text and the C parser's objects: the
HID element trees) and the rest one line pattern (about 0.6) and a few operations per line.
Parsing containers lazily would leave the tree without them (1.9) plus a recogniser that
proves a container well-formed, which the damaged value's diagnostic needs at import and
which costs at least the plain test: about 3.4x on MacBookPro8,2 but 4.0x on MacMini3,1, so
4x there needs that and more (the per-line work, or the NubSpecs).
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest

from iokit_host.ioreg_import import import_dump
from tests.bench.timing import interleaved_cpu

pytestmark = pytest.mark.bench

CORPUS = Path("/work/shared/corpus/ioreg")
ROUNDS = 7
BOUND = 4.0
_LINE = re.compile(r'^[ |]*(?:\+-o (.+?)  <class ([^,>]+)|"([^"]*)" = (.*))$')


@pytest.mark.xfail(strict=False, reason="4x is not reached on the large dumps (4.9-6.8x; "
                   "3.6-4.0x on the small ones): the containers' objects are still built at "
                   "import (ratios printed)")
def test_reading_a_dump_within_4x_one_regex_pass() -> None:
    dumps = sorted(CORPUS.glob("*.txt")) if CORPUS.is_dir() else []
    if not dumps:
        pytest.skip("the shared ioreg corpus is not here")
    ratios = []
    for dump in dumps:
        text = dump.read_text(encoding="utf-8", errors="replace")

        def one_pass(text: str = text) -> int:
            return sum(1 for line in text.splitlines() if _LINE.match(line))

        def read(dump: Path = dump) -> object:
            return import_dump(dump)

        runs = interleaved_cpu({"pass": one_pass, "read": read}, ROUNDS)
        scan, model = (statistics.median(runs[name]) for name in ("pass", "read"))
        ratios.append(model / scan)
        print(f"\n{dump.name[:56]}: {len(text) // 1024} KiB, regex pass {scan * 1e3:.1f} ms, "
              f"import {model * 1e3:.1f} ms (ratio {model / scan:.1f}, bound {BOUND})", end="")
    print()
    assert max(ratios) <= BOUND
