"""Benchmark: reading real ``ioreg -l`` dumps (the shared corpus) into machine models.

Baseline, measured in the same run, interleaved round by round, in CPU time
(tests/bench/timing.py): one regular-expression pass over the dump's lines that recognises
entry lines and ``"key" = value`` lines, which any reader must at least do.

Target: each dump within 4x that pass. Not reached (xfail, ratios printed; 8-11x on the
large dumps, 6-7x on the small ones): plain containers go through the json module's C parser,
but data, hex numbers and sets are still read token by token, and each line by Python code.
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


@pytest.mark.xfail(strict=False, reason="4x is not reached yet (8-11x on large dumps): "
                   "each line is still read by Python code (ratios printed)")
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
