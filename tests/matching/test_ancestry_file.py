"""The knowledge base's file read a class at a time: the same answers as decoding it whole."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from iokit_host.matching.ancestry import DATA_FILE, AncestryKnowledge
from iokit_host.matching.ancestry_file import ClassLines, read_knowledge

REPO = Path(__file__).resolve().parents[2]


def _render() -> Any:
    """scripts/build_ancestry.py's ``render``: the layout the shipped file is written in."""
    spec = importlib.util.spec_from_file_location("build_ancestry",
                                                  REPO / "scripts" / "build_ancestry.py")
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render


RENDER = _render()


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    return {key: dict(value) if isinstance(value, ClassLines) else value
            for key, value in data.items()}


def test_the_shipped_file_reads_class_by_class_to_what_a_whole_decode_gives() -> None:
    text = DATA_FILE.read_text(encoding="utf-8")
    read = read_knowledge(text)
    assert isinstance(read["kernel"], ClassLines)  # the fast path is the one taken
    assert _plain(read) == json.loads(text)


def test_a_file_in_another_layout_is_decoded_whole() -> None:
    data = {"builds": {"1092": "12C60"}, "sources": [["repo", "path", "abc"]],
            "kernel": {"Widget": [["IOService", "metaclass", 0]]}, "driverkit": {}}
    read = read_knowledge(json.dumps(data, indent=2))
    assert read == data and not isinstance(read["kernel"], ClassLines)


def test_a_damaged_class_line_loses_that_class_only() -> None:
    data = {"builds": {}, "format": 1, "sources": [["repo", "path", "abc"]],
            "kernel": {"Broken": [["IOService", "metaclass", 0]],
                       "Widget": [["IOService", "metaclass", 0]]},
            "driverkit": {}}
    text = RENDER(data).replace('"Broken":[["IOService"', '"Broken":[["IOService"}', 1)
    knowledge = AncestryKnowledge(read_knowledge(text))
    assert knowledge.fact("Broken", None) is None
    fact = knowledge.fact("Widget", None)
    assert fact is not None and fact.superclass == "IOService"


_NAMES = st.text(min_size=1, max_size=12)
_ROWS = st.lists(st.tuples(_NAMES, st.sampled_from(["metaclass", "header", "archive"]),
                           st.integers(0, 3)).map(list), min_size=1, max_size=3)


@settings(max_examples=150, deadline=None)
@given(kernel=st.dictionaries(_NAMES, _ROWS, max_size=8),
       driverkit=st.dictionaries(_NAMES, _ROWS, max_size=3))
def test_any_rendered_base_reads_as_its_whole_decode(
        kernel: dict[str, Any], driverkit: dict[str, Any]) -> None:
    """Names with quotes, escapes, newlines or any script: the class-by-class read or the
    whole decode, never a different answer."""
    data = {"builds": {"1": "9L30"}, "format": 1, "sources": [["r", "p", "c"]] * 4,
            "kernel": kernel, "driverkit": driverkit}
    text = RENDER(data)
    read = read_knowledge(text)
    assert _plain(read) == json.loads(text)
    assert all((name in read["kernel"]) and read["kernel"][name] == rows
               for name, rows in kernel.items())


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(0, 10_000), junk=st.text(max_size=3))
@example(cut=8916, junk=":/")  # a line's key cut down to its quote: '":/ass11":[...]'
def test_a_damaged_file_reads_or_fails_as_json_does(cut: int, junk: str) -> None:
    """Where the whole file decodes, the same values; where it does not, ValueError as
    ``json.loads`` raises, or the classes whose lines still read."""
    data = {"builds": {}, "format": 1, "sources": [["r", "p", "c"]],
            "kernel": {f"Class{i}": [["IOService", "metaclass", 0]] for i in range(20)},
            "driverkit": {"IOService": [["OSObject", "iig", 0]]}}
    text = RENDER(data)
    at = cut % (len(text) + 1)
    damaged = text[:at] + junk + text[at + len(junk):]
    try:
        whole = json.loads(damaged)
    except ValueError:
        whole = None
    try:
        read = read_knowledge(damaged)
    except ValueError:
        assert whole is None  # not JSON: the base is empty (shipped_knowledge), as before
        return
    if whole is not None:
        assert _plain(read) == whole
    kernel = read.get("kernel") if isinstance(read, dict) else None
    if isinstance(kernel, ClassLines):  # a damaged line: that class has no rows, no error
        assert all(isinstance(kernel.get(name), list) for name in kernel)
