"""JSON text without recursion: exactly what json.dumps writes, at any depth."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.ioreg.jsontext import _Writer, dump, dumps

leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                   st.text(max_size=6))
documents = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.text(max_size=4), st.integers(), st.booleans()), inner,
                    max_size=4)), max_leaves=25)


@settings(max_examples=200, deadline=None)
@given(documents, st.sampled_from([None, 0, 2]), st.booleans())
def test_the_iterative_writer_writes_what_json_dumps_writes(value: object, indent: int | None,
                                                            ascii_only: bool) -> None:
    expected = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    assert _Writer(indent, ascii_only).write(value) == expected
    stream = io.StringIO()
    _Writer(indent, ascii_only).write(value, stream)
    assert stream.getvalue() == expected


def registry_like(depth: int) -> dict[str, object]:
    """Nested the way ioreg's JSON is: each entry holds its children."""
    top: dict[str, object] = {"name": "Root", "children": []}
    node = top
    for level in range(depth):
        child: dict[str, object] = {"name": f"n{level}", "children": []}
        node["children"].append(child)  # type: ignore[attr-defined]
        node = child
    return top


def _past_json_dumps(indent: int | None) -> int:
    """A depth json.dumps refuses (RecursionError): 1,500 on Python 3.11 and 3.12; 3.13's
    encoder counts against a C stack limit of its own, and goes deeper."""
    depth = 1500
    while depth < 200_000:
        try:
            json.dumps(registry_like(depth), indent=indent)
        except RecursionError:
            return depth
        depth *= 4
    pytest.fail("json.dumps wrote a 200,000-deep document: nothing here to prove")


@pytest.mark.parametrize("indent", [None, 2])
def test_documents_deeper_than_json_dumps_can_go_are_written(indent: int | None) -> None:
    depth = _past_json_dumps(indent)
    value = registry_like(depth)
    text = dumps(value, indent=indent)
    assert text.count('"name"') == depth + 1
    assert text.startswith('{"name": "Root"' if indent is None else '{\n  "name": "Root"')
    stream = io.StringIO()
    dump(value, stream, indent=indent)
    assert stream.getvalue() == text


def test_keys_that_json_cannot_hold_are_refused_as_json_refuses_them() -> None:
    with pytest.raises(TypeError):
        _Writer(None, True).write({(1, 2): 3})
