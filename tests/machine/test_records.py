"""A model file keeps what an archive recorded: ``[[entry]]`` (entries in no IOService
position), ``record = {...}`` (state, busy count, bundle) and plane links' ``order``; a wrong
one is refused naming node and key."""

from __future__ import annotations

import pytest

from iokit_host.host import IOKitHost
from iokit_host.ioreg import IoregOptions, render_text
from iokit_host.machine import MachineModelError, dump_machine, parse_machine

MODEL = """\
[machine]
name = "m"

[[nub]]
id = "pe"
class = "IOPlatformExpertDevice"
planes = [{ plane = "IODeviceTree", name = "/" }]

[[nub]]
id = "gfx"
parent = "pe"
class = "IOPCIDevice"
name = "GFX0"
record = { registered = false, busy = 0, bundle-id = "com.apple.iokit.IOPCIFamily" }
planes = [{ plane = "IODeviceTree", parent = "pe", order = 1 }]

[[entry]]
id = "chosen"
class = "IOService"
name = "chosen"
record = { registered = false, matched = false }
planes = [{ plane = "IODeviceTree", parent = "pe", order = 0 }]
"""


def test_entries_records_and_order_read_boot_and_write_back() -> None:
    model = parse_machine(MODEL, source="m.toml")
    (chosen,) = model.entries
    assert chosen.record is not None and not chosen.record.matched
    gfx = model.root.children[0]
    assert gfx.record is not None and gfx.record.bundle_id == "com.apple.iokit.IOPCIFamily"
    assert parse_machine(dump_machine(model), source="m.toml") == model
    host = IOKitHost(machine=model)
    host.boot()
    tree = render_text(host.registry, IoregOptions(plane="IODeviceTree", state=False))
    # Recorded order: chosen (0) before GFX0 (1), though GFX0 comes first in the file.
    assert tree.splitlines()[2:] == ["    +-o chosen  <class IOService>",
                                     "    +-o GFX0  <class IOPCIDevice>"]
    # A nub recorded !registered is not registered, so nothing matched on it.
    service = render_text(host.registry, IoregOptions())
    assert "+-o GFX0  <class IOPCIDevice, id" in service and "!registered" in service
    assert _drivers_on_gfx(host) == []
    registered = MODEL.replace("registered = false, busy", "registered = true, busy")
    booted = IOKitHost(machine=parse_machine(registered, source="m.toml"))
    booted.boot()
    assert _drivers_on_gfx(booted)  # the catch-all PCI driver, once GFX0 is registered


def _drivers_on_gfx(host: IOKitHost) -> list[str]:
    platform = host.registry.plane_root("IOService")
    assert platform is not None
    gfx = next(e for e in platform.get_child_entries("IOService") if e.get_name() == "GFX0")
    return [child.class_name() for child in gfx.get_child_entries("IOService")]


@pytest.mark.parametrize(("change", "reference", "key"), [
    ('record = { registered = "yes" }', "machine-model-wrong-type", "record.registered"),
    ("record = { busy = -1 }", "machine-model-bad-value", "record.busy"),
    ("record = { sleepy = true }", "machine-model-unknown-key", "record.sleepy"),
    ('planes = [{ plane = "IODeviceTree", parent = "pe", order = -2 }]',
     "machine-model-bad-value", "planes[0].order"),
    ('parent = "pe"', "machine-model-unknown-key", "parent"),
])
def test_a_wrong_entry_is_refused_by_node_and_key(change: str, reference: str,
                                                  key: str) -> None:
    text = MODEL.replace('record = { registered = false, matched = false }', change) \
        if change.startswith("record") else MODEL.replace(
            'planes = [{ plane = "IODeviceTree", parent = "pe", order = 0 }]', change)
    with pytest.raises(MachineModelError) as caught:
        parse_machine(text, source="m.toml")
    assert caught.value.diagnostic.reference == reference
    assert caught.value.diagnostic.key == key


def test_entry_ids_are_unique_with_the_nubs() -> None:
    with pytest.raises(MachineModelError) as caught:
        parse_machine(MODEL.replace('id = "chosen"', 'id = "gfx"'), source="m.toml")
    assert caught.value.diagnostic.reference == "machine-model-duplicate-id"
