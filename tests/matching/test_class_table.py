"""The built-in table of driver classes whose ancestry is documented outside the dumps."""

from __future__ import annotations

import pytest

from iokit_host.matching.class_table import KNOWN_DRIVER_CLASSES
from iokit_host.matching.classes import STANDARD_CLASSES, ClassRegistry


@pytest.mark.parametrize(("name", "superclass"), sorted(KNOWN_DRIVER_CLASSES.items()))
def test_each_known_class_resolves_to_a_chain_through_its_cited_superclass(
        name: str, superclass: str) -> None:
    classes = ClassRegistry()
    chain = classes.chain(name)
    assert chain[:2] == (name, superclass)
    assert chain[-2:] == ("IOService", "IORegistryEntry")
    assert classes.resolve(name)().meta_cast(superclass)


def test_known_chains_reach_the_family_classes_personalities_name() -> None:
    classes = ClassRegistry()
    assert classes.chain("NVDA") == ("NVDA", "IONDRVFramebuffer", "IOFramebuffer",
                                     "IOGraphicsDevice", "IOService", "IORegistryEntry")
    for stream in ("IOBluetoothSerialClientModemStreamSync",
                   "IOBluetoothSerialClientSerialStreamSync"):
        assert classes.resolve(stream)().meta_cast("IOSerialStreamSync")


def test_table_does_not_redefine_standard_classes() -> None:
    assert not set(KNOWN_DRIVER_CLASSES) & set(STANDARD_CLASSES)


def test_built_in_ancestry_wins_over_a_declaration() -> None:
    classes = ClassRegistry()
    classes.declare({"NVDA": "IOService"})
    assert classes.superclass_name("NVDA") == "IONDRVFramebuffer"
