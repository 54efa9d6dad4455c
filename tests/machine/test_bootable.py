"""Booting a model and importing it (written as a file and read back) give the same verdict
with the same diagnostic: what the file format refuses, boot refuses too, named alike."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from iokit_host.errors import Diagnostic
from iokit_host.machine import MachineModel, NubSpec, PlaneLink, dump_machine, parse_machine
from iokit_host.machine.build import populate
from iokit_host.machine.errors import MachineModelError
from iokit_host.machine.model import EntryRecord
from iokit_host.matching.classes import ClassRegistry
from iokit_host.registry import IORegistry


def _boot_error(model: MachineModel) -> MachineModelError:
    host = SimpleNamespace(classes=ClassRegistry(), registry=IORegistry(), kernel=None)
    with pytest.raises(MachineModelError) as caught:
        populate(host, model)
    return caught.value


def _import_error(model: MachineModel) -> MachineModelError:
    with pytest.raises(MachineModelError) as caught:
        parse_machine(dump_machine(model), source=model.source)
    return caught.value


def _model(*children: NubSpec, planes: tuple[str, ...] = (),
           entries: tuple[NubSpec, ...] = ()) -> MachineModel:
    return MachineModel("m", "", NubSpec("IOPlatformExpertDevice", id="pe", children=children),
                        planes=planes, source="m.ioreg", entries=entries)


def _same(model: MachineModel) -> Diagnostic:
    """The diagnostic boot and import both give, with the nub both name."""
    booted, imported = _boot_error(model), _import_error(model)
    assert booted.node == imported.node
    ours, theirs = booted.diagnostic, imported.diagnostic
    assert (ours.reference, ours.message, ours.key, ours.hint) == (
        theirs.reference, theirs.message, theirs.key, theirs.hint)
    assert ours.file == "m.ioreg"
    return ours


def test_iokit_resources_below_a_device_is_refused_alike() -> None:
    resources = NubSpec("IOResources", id="res")
    found = _same(_model(NubSpec("IOService", name="Dev", id="dev", children=(resources,))))
    assert found.reference == "machine-model-resources-placement"
    assert found.key == "parent" and "(in nub[2] IOPlatformExpertDevice/Dev/IOResources)" in found.message


def test_iokit_resources_beside_the_expert_boots() -> None:
    model = _model(NubSpec("IOResources", id="res"))
    parse_machine(dump_machine(model), source="m.ioreg")
    host = SimpleNamespace(classes=ClassRegistry(), registry=IORegistry(), kernel=None)
    populate(host, model)


@pytest.mark.parametrize("busy", [1 << 31, 1 << 40, -1])
def test_a_busy_count_past_32_bits_is_refused_alike(busy: int) -> None:
    found = _same(_model(NubSpec("IOService", name="Dev", id="dev",
                                 record=EntryRecord(registered=False, busy=busy))))
    assert found.reference == "machine-model-bad-value"
    assert found.key == "record.busy" and "(in nub[1] IOPlatformExpertDevice/Dev)" in found.message


def test_the_largest_busy_count_boots() -> None:
    model = _model(NubSpec("IOService", name="Dev", id="dev",
                           record=EntryRecord(registered=False, busy=(1 << 31) - 1)))
    parse_machine(dump_machine(model), source="m.ioreg")
    populate(SimpleNamespace(classes=ClassRegistry(), registry=IORegistry(), kernel=None),
             model)


def test_an_entrys_busy_count_is_refused_alike() -> None:
    entry = NubSpec("IOService", name="E", id="e", record=EntryRecord(busy=1 << 31),
                    planes=(PlaneLink("IODeviceTree", "pe"),))
    found = _same(_model(entries=(entry,)))
    assert found.key == "record.busy" and "entry[0]" in found.message


def test_a_plane_without_a_name_is_refused_alike() -> None:
    found = _same(_model(planes=("",)))
    assert (found.reference, found.key) == ("machine-model-bad-value", "machine.planes[0]")


def _braid(count: int, plane: str) -> NubSpec:
    """A chain of ``count`` nubs below the expert, each also linked in ``plane`` under the
    nub two above it (in a plane but IOService, under the one above it too): shown along
    Fibonacci-many paths (forty nubs, a hundred million)."""
    nub: NubSpec | None = None
    for number in reversed(range(count)):
        above = [] if plane == "IOService" or not number else [f"n{number - 1}"]
        above += [f"n{number - 2}"] if number >= 2 else []
        links = tuple(PlaneLink(plane, parent) for parent in above)
        nub = NubSpec("IOService", id=f"n{number}", children=(nub,) if nub else (),
                      planes=links)
    assert nub is not None
    return nub


@pytest.mark.parametrize("plane", ["IOService", "IODeviceTree"])
def test_extra_parents_that_show_a_plane_without_end_are_refused_alike(plane: str) -> None:
    found = _same(_model(_braid(40, plane)))
    assert found.reference == "machine-model-too-large"
    assert found.key.endswith("].parent") and f"plane {plane}" in found.message


def test_a_few_extra_parents_boot() -> None:
    host = SimpleNamespace(classes=ClassRegistry(), registry=IORegistry(), kernel=None)
    populate(host, _model(_braid(12, "IOService")))


def test_a_plane_loop_is_refused_alike_naming_the_nub() -> None:
    # Boot named two registry entries ("<IOService 'B' 0x...> under <IOService 'A' ...>").
    a = NubSpec("IOService", name="A", id="a", planes=(PlaneLink("IODeviceTree", "b"),))
    b = NubSpec("IOService", name="B", id="b", planes=(PlaneLink("IODeviceTree", "a"),))
    found = _same(_model(a, b))
    assert (found.reference, found.key) == ("machine-model-structure", "planes[0].parent")
    assert found.subject == "nub[2] IOPlatformExpertDevice/B"


def test_a_value_the_registry_refuses_names_the_nub_and_key_alike() -> None:
    # Boot named neither ("m.ioreg: x: float is not a registry property type").
    model = _model(NubSpec("IOService", name="Dev"),
                   NubSpec("IOService", name="Bad", properties={"x": 1.5}))
    booted, imported = _boot_error(model).diagnostic, _import_error(model).diagnostic
    assert (booted.subject, booted.key) == (imported.subject, imported.key) == (
        "nub[2] IOPlatformExpertDevice/Bad", "properties.x")
