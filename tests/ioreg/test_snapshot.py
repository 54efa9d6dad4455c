"""The printers read a snapshot of each entry's properties: a driver's own thread may set,
remove or change them (a container, in place) while `iokit ioreg` prints, and the print
crashed with "dictionary changed size during iteration". The thread's interleaving is played
here deterministically: the printer's own per-value call changes the entry the first time."""

from __future__ import annotations

import json
import plistlib
from collections.abc import Callable
from typing import Any

import pytest
from iokit_sdk.entry import IORegistryEntry

from iokit_host.ioreg import IoregOptions, archive, format, jsonout, render_text, text
from iokit_host.registry import IORegistry

from .conftest import Maker

LIST = IoregOptions(list_properties=True, state=False)


#: The value of the entry's first property, and one inside its nested dictionary: where the
#: driver's thread changes the entry (a top-level or a nested walk is under way there).
FIRST, INSIDE = "first", 7


def _interleaved(module: object, name: str, change: Callable[[], None],
                 at: object = FIRST) -> Callable[..., Any]:
    """Wrap ``module.name`` so its first call with ``at`` runs ``change`` first: a thread
    switch there."""
    original = getattr(module, name)
    pending = [change]

    def wrapped(value: Any, *args: Any, **kwargs: Any) -> Any:
        if pending and type(value) is type(at) and value == at:
            pending.pop()()
        return original(value, *args, **kwargs)

    return wrapped


def _changes(entry: IORegistryEntry) -> Callable[[], None]:
    def change() -> None:  # what the driver's thread does between two printed properties
        for index in range(20):
            entry.set_property(f"late{index}", index)
        entry.remove_property("b")
        # the registry's own table changed in place (host code does, as PM's IOPowerManagement;
        # a driver cannot: what `properties` hands it is a copy)
        entry._props["nested"]["added"] = 1
        entry._props["array"].append(4)
    return change


@pytest.fixture
def busy(registry: IORegistry, make: Maker) -> IORegistryEntry:
    return make(None, "IOService", name="Busy", props={
        "a": FIRST, "b": 2, "nested": {"x": INSIDE, "y": {"z": 2}}, "array": [1, 2, 3]})


def _json(registry: IORegistry) -> Any:
    return json.loads(jsonout.render_json(registry, LIST))


def _archive(registry: IORegistry) -> Any:
    return plistlib.loads(archive.render_archive(registry, LIST))


PRINTERS: dict[str, tuple[object, str, object, Callable[[IORegistry], Any]]] = {
    "text": (text, "format_value", FIRST, lambda r: render_text(r, LIST)),
    "text nested": (format, "format_number", INSIDE, lambda r: render_text(r, LIST)),
    "json": (jsonout, "encode_json_value", FIRST, _json),
    "json nested": (jsonout, "encode_json_value", INSIDE, _json),
    "archive": (archive, "archive_value", FIRST, _archive),
    "archive nested": (archive, "archive_value", INSIDE, _archive),
}


@pytest.mark.parametrize("printer", list(PRINTERS))
def test_properties_changed_while_printed_do_not_break_the_print(
        printer: str, registry: IORegistry, busy: IORegistryEntry,
        monkeypatch: pytest.MonkeyPatch) -> None:
    module, name, at, render = PRINTERS[printer]
    monkeypatch.setattr(module, name, _interleaved(module, name, _changes(busy), at))
    printed = render(registry)
    assert printed  # the whole registry, as it was when each entry was reached
    assert "late0" in busy.properties and "b" not in busy.properties  # the change happened


def test_a_snapshot_shows_each_entry_as_it_was_when_reached(
        registry: IORegistry, busy: IORegistryEntry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text, "format_value", _interleaved(text, "format_value", _changes(busy)))
    lines = [line.strip() for line in render_text(registry, LIST).splitlines()]
    assert '"b" = 2' in lines and not any(line.startswith('"late') for line in lines)
    # the snapshot copies containers too (copy_properties): nested values as they were
    assert '"nested" = {"x"=7,"y"={"z"=2}}' in lines
    assert '"array" = (1,2,3)' in lines
