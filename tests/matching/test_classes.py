"""The class registry behaves as OSMetaClass does: lookup by name, casts along the chain, atomic kext registration."""

from __future__ import annotations

import pytest
from iokit_sdk import IOService

from iokit_host.matching.classes import (
    MAX_CLASS_DEPTH,
    ClassRegistry,
    DuplicateClassError,
    UnknownClassError,
)


def test_standard_family_class_casts_to_its_ancestors() -> None:
    classes = ClassRegistry()
    bridge = classes.resolve("AppleACPIPCI")()
    assert bridge.meta_cast("IOPCIBridge")
    assert bridge.meta_cast("IOService")
    assert not bridge.meta_cast("IOPCIDevice")
    assert classes.chain("AppleACPIPCI") == ("AppleACPIPCI", "IOPCIBridge", "IOService",
                                             "IORegistryEntry")


def test_unknown_class_name_never_matches() -> None:
    nub = ClassRegistry().resolve("IOPCIDevice")()
    assert not nub.meta_cast("NoSuchClass")


def test_declared_ancestry_builds_the_whole_chain() -> None:
    classes = ClassRegistry()
    classes.declare({"VendorWidget": "VendorBase", "VendorBase": "IOPCIDevice"})
    widget = classes.resolve("VendorWidget")()
    assert widget.class_name() == "VendorWidget"
    assert widget.meta_cast("VendorBase") and widget.meta_cast("IOPCIDevice")


def test_undeclared_class_needs_a_default_superclass() -> None:
    classes = ClassRegistry()
    with pytest.raises(UnknownClassError) as error:
        classes.resolve("Mystery")
    assert error.value.ref == "class-unknown"
    assert classes.resolve("Mystery", default_super="IOService")().meta_cast("IOService")


def test_ancestry_loop_is_reported_not_followed_forever() -> None:
    classes = ClassRegistry()
    classes.declare({"A": "B", "B": "A"})
    with pytest.raises(UnknownClassError, match="loops"):
        classes.resolve("A")


def test_a_recorded_ancestry_100000_long_resolves_to_a_bounded_chain() -> None:
    # A damaged archive or dump records chains the model reader never sees; each synthesised
    # class holds its whole chain, so 100,000 of them took memory quadratic in the length.
    classes = ClassRegistry()
    classes.use_machine({f"C{i}": f"C{i + 1}" for i in range(100_000)}, {})
    nub = classes.resolve("C0", default_super="IOService")()
    assert nub.meta_cast("C1") and nub.meta_cast("IOService")
    assert len(nub.class_chain) <= MAX_CLASS_DEPTH
    assert not classes.ancestry_known("C0")  # the links past the bound were assumed
    assert len(classes.chain("C5")) <= MAX_CLASS_DEPTH


def test_kext_with_a_colliding_class_registers_none_of_its_classes() -> None:
    class Fresh(IOService):
        pass

    class Taken(IOService):
        pass

    class TakenAgain(IOService):
        iokit_class_name = "Taken"

    classes = ClassRegistry()
    classes.register_kext_classes("com.example.first", [Taken])
    with pytest.raises(DuplicateClassError) as error:
        classes.register_kext_classes("com.example.second", [Fresh, TakenAgain])
    assert "com.example.first" in str(error.value)
    assert classes.lookup("Fresh") is None
    assert classes.lookup("Taken") is Taken
    assert classes.owner_of("Taken") == "com.example.first"


def test_unregistering_a_kext_removes_only_its_classes() -> None:
    class Mine(IOService):
        pass

    classes = ClassRegistry()
    classes.register_kext_classes("com.example.mine", [Mine])
    classes.unregister_kext_classes("com.example.mine")
    assert classes.lookup("Mine") is None
    assert classes.lookup("IOService") is IOService


def test_each_host_has_its_own_synthesised_classes() -> None:
    first, second = ClassRegistry(), ClassRegistry()
    first.declare({"OnlyHere": "IOService"})
    assert first.is_known("OnlyHere")
    assert not second.is_known("OnlyHere")
    assert first.resolve("IOPCIDevice") is not second.resolve("IOPCIDevice")
