"""The ``iokit_machine`` fixture: machines from dicts and files, validated like model files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk import OSNumber

from iokit_host.machine.errors import MachineModelError
from iokit_host.testing import build_machine, machine_toml

KEYBOARD = {
    "machine": {"name": "one-keyboard", "description": "a root and a keyboard"},
    "nub": [
        {"id": "root", "class": "IOPlatformExpertDevice", "name": "TestMac"},
        {"id": "kbd", "parent": "root", "class": "IOUSBHostDevice", "name": "Keyboard",
         "location": "fa120000",
         "properties": {"idVendor": {"number": 0x05AC, "bits": 16}, "idProduct": 591}},
        {"parent": "kbd", "class": "IOUSBHostInterface", "name": "Keys", "location": "0",
         "properties": {"bInterfaceClass": 3, "compatible": {"strings": ["usb3,1", "usb3"]}}},
    ],
}


def test_a_dict_becomes_a_machine_with_typed_properties(iokit_machine: Any) -> None:
    model = iokit_machine(KEYBOARD)
    assert (model.name, model.description) == ("one-keyboard", "a root and a keyboard")
    (device,) = model.root.children
    (interface,) = device.children
    assert device.properties["idVendor"] == OSNumber(0x05AC, 16)
    assert device.properties["idVendor"].bits == 16
    assert (interface.name, interface.location) == ("Keys", "0")
    assert interface.properties["compatible"] == b"usb3,1\x00usb3\x00"


def test_a_model_file_reads_the_same_as_its_dict(iokit_machine: Any, tmp_path: Path) -> None:
    path = tmp_path / "one-keyboard.toml"
    path.write_text(machine_toml(KEYBOARD), encoding="utf-8")
    assert iokit_machine(path).root == iokit_machine(KEYBOARD).root


def test_a_mistake_in_a_dict_is_reported_by_key(iokit_machine: Any) -> None:
    broken = {"nub": [{"id": "root", "class": "IOPlatformExpertDevice", "nmae": "TestMac"}]}
    with pytest.raises(MachineModelError) as caught:
        iokit_machine(broken)
    assert "nmae" in str(caught.value)
    assert "did you mean 'name'" in str(caught.value)


def test_a_machine_boots_with_its_nubs(iokit_host: Any, iokit_machine: Any) -> None:
    host = iokit_host(iokit_machine(KEYBOARD))
    interface = host.find("Keys")
    assert interface is not None
    assert interface.class_name() == "IOUSBHostInterface"
    assert interface.get_provider() is host.find("Keyboard")


def _with_property(value: Any) -> dict[str, Any]:
    return {"nub": [{"id": "root", "class": "IOPlatformExpertDevice", "name": "TestMac"},
                    {"parent": "root", "class": "IOService", "properties": {"x": value}}]}


def _chain(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"x": value}
    return value


_SELF: list[Any] = []
_SELF.append(_SELF)


@pytest.mark.parametrize(("value", "said"), [
    (None, "NoneType is not a value"), (b"\x01", "bytes is not a value"),
    ({1, 2}, "set is not a value"), (object(), "object is not a value"),
    ({1: 2}, "the key 1 is not text"), ("\udcff", "lone surrogate"),
    (_chain(5_000), "nests more than"), (_SELF, "nests more than")],
    ids=["none", "bytes", "set", "object", "int-key", "surrogate", "deep", "holds-itself"])
def test_what_no_toml_file_holds_is_refused_by_key(iokit_machine: Any, value: Any,
                                                   said: str) -> None:
    # The dict was written out as TOML first: these were a bare ValueError, TypeError or
    # RecursionError from the writer, naming neither key nor fixture.
    with pytest.raises(MachineModelError) as caught:
        iokit_machine(_with_property(value))
    assert said in str(caught.value) and "nub[1].properties" in str(caught.value)


def test_a_float_is_refused_where_a_file_s_would_be(iokit_machine: Any) -> None:
    with pytest.raises(MachineModelError, match="a float is not a property value"):
        iokit_machine(_with_property(float("nan")))


@pytest.mark.parametrize("source", [None, ["nub"], 5])
def test_a_machine_that_is_no_dict_or_path_is_refused_in_words(iokit_machine: Any,
                                                               source: Any) -> None:
    with pytest.raises(MachineModelError, match="a machine is a dict, a model file's path"):
        iokit_machine(source)


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary()
    | st.sets(st.integers(), max_size=2) | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner)
    | st.dictionaries(st.text() | st.integers(), inner, max_size=3), max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["machine", "nub", "classes", "root-properties", "x"])
                       | st.text(max_size=4), _VALUES, max_size=3),
       _VALUES)
def test_any_dict_is_a_machine_or_our_error(document: dict[str, Any], value: Any) -> None:
    for source in (document, _with_property(value)):
        try:
            build_machine(source)
        except MachineModelError:
            pass
