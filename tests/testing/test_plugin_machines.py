"""The ``iokit_machine`` fixture: machines from dicts and files, validated like model files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from iokit_sdk import OSNumber

from iokit_host.machine.errors import MachineModelError
from iokit_host.testing import machine_toml

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
