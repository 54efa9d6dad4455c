"""A dictionary's version (:mod:`iokit_host.kernel.dict_version`): the read that lets the
process-wide checks skip comparing ``builtins`` name by name while nothing in it changed, and
never while something did."""

from __future__ import annotations

import builtins
from collections.abc import Iterator

import pytest

from iokit_host.kernel.dict_version import version_of
from iokit_host.kernel.process_state import ProcessState


def test_a_dicts_version_moves_on_with_each_change_and_not_with_a_read() -> None:
    mapping: dict[str, object] = {"a": 1}
    version = version_of(mapping)
    if version is None:
        pytest.skip("this interpreter's dict version is not proved")
    seen = [version.value]
    for change in (lambda: mapping.update(b=2), lambda: mapping.__setitem__("a", 3),
                   lambda: mapping.pop("b"), mapping.clear):
        change()
        seen.append(version.value)
    assert len(set(seen)) == len(seen)
    _ = mapping.get("a"), list(mapping)
    assert version.value == seen[-1]


def test_only_a_plain_dict_has_a_version() -> None:
    class Mapping(dict[str, int]):
        pass

    assert version_of(Mapping()) is None


@pytest.fixture()
def print_kept() -> Iterator[None]:
    original = vars(builtins)["print"]
    try:
        yield
    finally:
        vars(builtins)["print"] = original


@pytest.mark.usefixtures("print_kept")
def test_a_builtin_replaced_after_a_clean_check_is_still_found_and_put_back() -> None:
    """The comparison is skipped while ``builtins`` keeps its version: the check that follows
    a driver's ``vars(builtins)['print'] = ...`` still compares, finds it and puts it back,
    and so does the next one after another change."""
    original = vars(builtins)["print"]
    state = ProcessState()
    assert state.check() == []
    assert state.check() == []  # skipped: nothing changed
    for _ in range(2):
        vars(builtins)["print"] = len
        assert state.check() == ["changed builtins (the host's print, open and the like)"]
        assert vars(builtins)["print"] is original
        assert state.check() == []


@pytest.mark.usefixtures("print_kept")
def test_a_name_added_to_builtins_is_left_alone_and_a_later_change_still_found() -> None:
    original = vars(builtins)["print"]
    state = ProcessState()
    vars(builtins)["_iokit_test_added"] = 1
    try:
        assert state.check() == []  # a driver's own name: its business
        vars(builtins)["print"] = len
        assert state.check() == ["changed builtins (the host's print, open and the like)"]
        assert vars(builtins)["print"] is original
    finally:
        del vars(builtins)["_iokit_test_added"]
