"""A session's handles: one per object, counted references, bounded, never reused."""

from __future__ import annotations

from iokit_host.server.handles import HandleTable


def test_one_object_one_handle_with_counted_references() -> None:
    table = HandleTable()
    thing = object()
    first = table.add(thing)
    assert first is not None and table.add(thing) == first
    assert table.release(first) is None  # one reference left
    assert table.get(first, object) is thing
    assert table.release(first) is thing  # the last one: forgotten
    assert table.get(first, object) is None
    again = table.add(thing)
    assert again is not None and again != first  # names are never reused


def test_kind_checks_and_foreign_handles() -> None:
    table = HandleTable()
    handle = table.add("text")
    assert handle is not None
    assert table.get(handle, int) is None and table.get(handle, str) == "text"
    assert table.get(True, str) is None and table.get("1", str) is None
    assert table.release(12345) is None and not table.retain(12345)


def test_the_table_is_bounded() -> None:
    table = HandleTable(limit=2)
    assert table.add(object()) is not None and table.add(object()) is not None
    assert table.add(object()) is None
    assert len(table) == 2
