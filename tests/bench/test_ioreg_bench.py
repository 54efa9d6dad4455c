"""ioreg rendering of a 10,000-entry registry (text, archive, JSON), and the text output of a
deep chain and of the 10,000-entry registry against writing the same bytes.

``test_text_against_writing_its_bytes``: ``write_text`` into a text stream on the null device,
against the cheapest way to write the same characters through such a stream, measured in the
same interleaved rounds (CPU time, medians; ``timing.interleaved_cpu``). For the chain of
4,000 levels (16 MB of ``  `` guides, as ioreg indents) the baseline builds each line's guides
from the one before and writes 64 KiB chunks of joined lines; for the 10,000-entry registry
with ``-l`` (3.6 MB) it writes the lines made beforehand, in the same chunks. Both baselines
are checked to write exactly what ``write_text`` writes.

Measured on a loaded two-core machine: the chain 10x its baseline (19 ms against 1.9; the
rest is each entry's label, as many entries as lines here), the registry 21-24x (90 ms against
3.7-4.2: the node labels and ``format_value``'s property values, made once per entry). Before,
the chain was 105x (197 ms; 140x at 5,000 levels, 266x at 10,000, 2.9 s): each line's guides
were made afresh from a bit stack by ``str.translate`` with a table of two-character
replacements, which CPython runs a character at a time, and each line was a write of its own;
the registry was 30-32x (113 ms). The bounds leave room for a loaded machine.
"""

from __future__ import annotations

import io
import os
import statistics
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import pytest
from iokit_sdk.service import IOService
from iokit_sdk.values import OSNumber

from iokit_host.ioreg import IoregOptions, render_archive, render_json, render_text, write_text
from iokit_host.registry import IORegistry

from .timing import interleaved_cpu

pytestmark = pytest.mark.bench

ROUNDS = 9
CHAIN_DEPTH = 4_000
#: ``write_text`` against writing its bytes: at most this many times the baseline's CPU.
CHAIN_BOUND = 25.0
REGISTRY_BOUND = 45.0
_CHUNK = 1 << 16


def _big_registry(count: int = 10_000) -> IORegistry:
    registry = IORegistry()
    props: dict[str, Any] = {
        "IOName": "pci-bridge", "reg": b"\x00\xe1" * 10, "vendor-id": OSNumber(0x8086, 32),
        "IOPowerManagement": {"MaxPowerState": 2, "CurrentPowerState": 2}}
    parents = [registry.root]
    for index in range(count - 1):
        entry = IOService(props, name=f"N{index}", location=f"{index:x}")
        registry.attach(entry, parents[index // 8], "IOService")
        parents.append(entry)
    return registry


def _chain(depth: int) -> IORegistry:
    registry = IORegistry()
    parent = registry.root
    for index in range(depth):
        entry = IOService({}, name=f"N{index}", location=f"{index:x}")
        registry.attach(entry, parent, "IOService")
        parent = entry
    return registry


@pytest.mark.parametrize("render", [render_text, render_archive, render_json])
def test_render_10k(benchmark, render) -> None:  # type: ignore[no-untyped-def]
    registry = _big_registry()
    output = benchmark(render, registry, IoregOptions(list_properties=True))
    assert len(output) > 10_000 * 50


def _null_stream() -> TextIO:
    return io.TextIOWrapper(open(os.devnull, "wb"), encoding="utf-8")


def _write_chunked(stream: TextIO, lines: Iterable[str]) -> None:
    batch: list[str] = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= _CHUNK:
            batch.append("")
            stream.write("\n".join(batch))
            batch, size = [], 0
    batch.append("")
    stream.write("\n".join(batch))


def _chain_lines(labels: list[str]) -> Iterable[str]:
    guides = ""
    for label in labels:
        yield guides + "+-o " + label
        guides += "  "


def _timed(write: Callable[[TextIO], None]) -> Callable[[], None]:
    def call() -> None:
        with _null_stream() as stream:
            write(stream)
    return call


@pytest.mark.parametrize("case", ["chain", "registry"])
def test_text_against_writing_its_bytes(case: str) -> None:
    if case == "chain":
        registry, options, bound = _chain(CHAIN_DEPTH), IoregOptions(), CHAIN_BOUND
    else:
        registry = _big_registry()
        options, bound = IoregOptions(list_properties=True), REGISTRY_BOUND
    expected = io.StringIO()
    write_text(expected, registry, options)
    text = expected.getvalue()
    lines = text.splitlines()
    if case == "chain":
        labels = [line[line.index("+-o ") + 4:] for line in lines]

        def baseline(stream: TextIO) -> None:
            _write_chunked(stream, _chain_lines(labels))
    else:
        def baseline(stream: TextIO) -> None:
            _write_chunked(stream, lines)
    check = io.StringIO()
    baseline(check)
    assert check.getvalue() == text  # the baseline writes the same characters

    samples = interleaved_cpu({
        "write_text": _timed(lambda stream: write_text(stream, registry, options)),
        "baseline": _timed(baseline)}, ROUNDS)
    median = {name: statistics.median(values) for name, values in samples.items()}
    ratio = median["write_text"] / median["baseline"]
    print(f"\n{case}: {len(text) / 1e6:.1f} MB, write_text {median['write_text'] * 1e3:.1f} ms "
          f"CPU, writing its bytes {median['baseline'] * 1e3:.1f} ms: ratio {ratio:.1f} "
          f"(bound {bound})")
    assert ratio <= bound
