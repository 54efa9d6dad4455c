"""The built-in table of driver classes whose ancestry is documented outside the dumps."""

from __future__ import annotations

import pytest

from iokit_host.matching.ancestry import shipped_knowledge
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


@pytest.mark.parametrize("table", [STANDARD_CLASSES, KNOWN_DRIVER_CLASSES],
                         ids=["standard", "known-drivers"])
def test_no_hand_entry_disagrees_with_the_public_tables(table: dict[str, str]) -> None:
    # Where a Mac source knows a class (open source, archives, headers), any release's answer
    # must be the hand entry's: otherwise the sourced fact decides and the hand entry goes.
    # Only the iPhone class dump may differ: the cited hand entry outranks it.
    knowledge = shipped_knowledge()
    disagreeing = {name: sorted(knowledge.superclasses(name, (1, 2, 4)))
                   for name, superclass in table.items()
                   if knowledge.superclasses(name, (1, 2, 4)) - {superclass}}
    assert disagreeing == {}


def test_a_class_the_hand_table_gave_up_follows_the_public_tables() -> None:
    # AppleUSBXHCI was hand-listed as an IOUSBHostController; IORegistryExplorer recorded it
    # as an IOUSBControllerV3 on every Mac of the archives (10.8, 10.9).
    classes = ClassRegistry()
    assert "AppleUSBXHCI" not in STANDARD_CLASSES
    assert classes.chain("AppleUSBXHCI")[:2] == ("AppleUSBXHCI", "IOUSBControllerV3")
