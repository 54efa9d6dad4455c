"""Machine models as values: a model thousands of nubs deep walks, compares and prints."""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError, fields

import pytest

from iokit_host.machine.model import MachineModel, NubSpec, PlaneLink, imported_nub


def chain(depth: int, name: str = "n") -> NubSpec:
    """A platform device with a chain of ``depth`` nubs below it, built bottom-up."""
    nub = NubSpec("IOService", name=f"{name}{depth}")
    for level in range(depth - 1, 0, -1):
        nub = NubSpec("IOService", name=f"{name}{level}", children=(nub,))
    return NubSpec("IOPlatformExpertDevice", children=(nub,))


def test_a_chain_thousands_deep_walks_in_order() -> None:
    model = MachineModel("deep", "", chain(5000))
    walked = list(model.nubs())
    assert len(walked) == 5001
    assert [depth for depth, _ in walked] == list(range(5001))
    assert walked[-1][1].name == "n5000"


def test_walk_keeps_sibling_order() -> None:
    root = NubSpec("IOPlatformExpertDevice", children=(
        NubSpec("A", children=(NubSpec("A1"), NubSpec("A2"))), NubSpec("B")))
    assert [(d, n.class_name) for d, n in root.walk()] == [
        (0, "IOPlatformExpertDevice"), (1, "A"), (2, "A1"), (2, "A2"), (1, "B")]


def test_deep_models_compare_without_recursion() -> None:
    assert chain(5000) == chain(5000)
    assert chain(5000) != chain(5000, name="m")
    assert chain(5000) != chain(4999)
    assert MachineModel("a", "", chain(3000)) == MachineModel("a", "", chain(3000))


def test_equality_still_sees_properties_and_links() -> None:
    assert NubSpec("A", properties={"x": 1}) != NubSpec("A", properties={"x": 2})
    assert NubSpec("A", properties={"x": 1}) == NubSpec("A", properties={"x": 1})
    assert NubSpec("A", recorded_driver=True) != NubSpec("A")


def test_repr_of_a_deep_model_is_short() -> None:
    text = repr(chain(5000))
    assert "IOPlatformExpertDevice" in text
    assert "children=<1>" in text
    assert len(text) < 200


def test_a_nub_made_by_an_importer_is_the_nub_its_fields_make() -> None:
    link = PlaneLink("IOService", parent="0x1", order=2)
    child = NubSpec("C", properties={})  # (the default properties, a mapping proxy, do not pickle)
    made = imported_nub("IOPCIDevice", "GFX0", "2", {"k": 1}, (child,), "0x5", (link,), True)
    expected = NubSpec("IOPCIDevice", "GFX0", "2", {"k": 1}, (child,), "0x5", (link,), True)
    every = [spec.name for spec in fields(NubSpec)]
    assert [getattr(made, name) for name in every] == [getattr(expected, name) for name in every]
    assert made == expected and hash(made) == hash(expected) and repr(made) == repr(expected)
    assert pickle.loads(pickle.dumps(made)) == expected and copy.deepcopy(made) == expected
    with pytest.raises(FrozenInstanceError):
        made.name = "other"  # type: ignore[misc]
