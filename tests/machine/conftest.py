"""Helpers shared by the machine-model tests."""

from __future__ import annotations

from typing import Any

from iokit_sdk.values import OSNumber

from iokit_host.machine.model import MachineModel, NubSpec


def typed(value: Any) -> Any:
    """A value with its libkern type made explicit, so equality also checks bit widths."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, OSNumber):
        return ("number", int(value), value.bits)
    if isinstance(value, int):
        return ("number", value, 64)
    if isinstance(value, (list, tuple)):
        return ("array", [typed(v) for v in value])
    if isinstance(value, (set, frozenset)):
        return ("set", sorted((typed(v) for v in value), key=repr))
    if isinstance(value, dict) or hasattr(value, "items"):
        return ("dict", {k: typed(v) for k, v in value.items()})
    return (type(value).__name__, value)


def typed_nub(nub: NubSpec) -> Any:
    return (nub.class_name, nub.name, nub.location, typed(nub.properties), nub.id, nub.planes,
            nub.recorded_driver, [typed_nub(c) for c in nub.children])


def typed_model(model: MachineModel) -> Any:
    return (model.name, model.description, dict(model.classes), model.planes,
            typed(model.root_properties), typed_nub(model.root))
