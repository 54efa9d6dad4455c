"""The class-ancestry knowledge base: release choice, precedence of sources, provenance."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.matching.ancestry import KINDS, AncestryKnowledge, shipped_knowledge
from iokit_host.matching.classes import ClassRegistry, UnknownClassError
from iokit_host.matching.releases import OSRelease


def _machine(build: str | None, classes: dict[str, str] | None = None,
             knowledge: AncestryKnowledge | None = None) -> ClassRegistry:
    registry = ClassRegistry(knowledge)
    root = {"OS Build Version": build} if build else {}
    registry.use_machine(classes or {}, root, source="mac.ioreg")
    return registry


# -- release choice, on the shipped knowledge base -----------------------------------------

@pytest.mark.parametrize(("build", "superclass"), [
    ("10J869", "IOService"), ("11A511", "IOService"), ("11B2118", "IOService"),
    ("11E2705", "AppleMCCSControlFamily"), ("11G63", "AppleMCCSControlFamily"),
    ("12C60", "AppleMCCSControlFamily"), ("13D65", "AppleMCCSControlFamily")])
def test_a_class_whose_superclass_changed_follows_the_machines_build(
        build: str, superclass: str) -> None:
    # IORegistryExplorer recorded AppleMCCSControlModule : IOService up to 10.7.2 (11B2118)
    # and : AppleMCCSControlFamily from 10.7.4 (11E2705).
    classes = _machine(build)
    assert classes.superclass_name("AppleMCCSControlModule") == superclass
    module = classes.resolve("AppleMCCSControlModule")()
    assert module.meta_cast("AppleMCCSControlFamily") == (superclass != "IOService")
    fact = classes.fact("AppleMCCSControlModule")
    assert fact is not None and fact.kind == "archive"
    assert f"chosen for {build}" in fact.release


def test_a_machine_that_records_no_build_gets_the_newest() -> None:
    fact = _machine(None).fact("AppleMCCSControlModule")
    assert fact is not None and fact.superclass == "AppleMCCSControlFamily"
    assert "records no OS build" in fact.release


@pytest.mark.parametrize(("build", "superclass"), [
    ("21G72", "IOUserClient"), ("22A380", "IOUserClient2022"), ("24A335", "IOUserClient2022")])
def test_an_open_source_version_placed_by_its_xnu_tag_holds_up_to_that_release(
        build: str, superclass: str) -> None:
    # xnu-8020 (macOS 12, Darwin 21) still had RootDomainUserClient : IOUserClient; main has
    # IOUserClient2022. No archive recorded a Darwin 21+ machine.
    assert _machine(build).superclass_name("IOUserServer") == superclass


def test_the_release_is_read_from_the_kernel_version_when_the_build_is_missing() -> None:
    registry = ClassRegistry()
    registry.use_machine({}, {"IOKitBuildVersion": "Darwin Kernel Version 11.0.0: Sat Jun 18"})
    assert registry.release == OSRelease(11)
    assert registry.superclass_name("AppleMCCSControlModule") is not None


# -- precedence, on a small knowledge base -------------------------------------------------

SMALL: dict[str, Any] = {
    "sources": [["apple-oss-distributions/Fam", "Fam.cpp", "a" * 40],
                ["apple-oss-distributions/Fam", "Fam.h", "b" * 40],
                ["yoavst/IOKitClassExplorer", "res/classes.json", "c" * 40],
                ["acidanthera/MacKernelSDK", "Headers/X.h", "d" * 40]],
    "builds": {},
    "kernel": {
        "Widget": [["FromMetaclass", "metaclass", 0, "main", None, 0],
                   ["FromHeader", "header", 1, "main", None, 0],
                   ["FromPhone", "ios-class-dump", 2]],
        "Gadget": [["FromSdkHeader", "sdk-header", 3], ["FromPhone", "ios-class-dump", 2]],
        "Gizmo": [["FromPhone", "ios-class-dump", 2]],
        "FromMetaclass": [["IOService", "metaclass", 0, "main", None, 0]],
    },
    "driverkit": {"Widget": [["OSObject", "iig", 1, "main"]]},
}


def test_the_machines_record_beats_every_table() -> None:
    classes = _machine("12C60", {"Widget": "Recorded"}, AncestryKnowledge(SMALL))
    fact = classes.fact("Widget")
    assert fact is not None and (fact.superclass, fact.kind) == ("Recorded", "recorded")
    assert fact.describe() == "recorded by this machine, mac.ioreg"


def test_metaclass_beats_header_which_beats_the_ios_dump() -> None:
    classes = _machine("12C60", knowledge=AncestryKnowledge(SMALL))
    found = {name: classes.fact(name) for name in ("Widget", "Gadget", "Gizmo")}
    assert {n: (f.superclass, f.kind) for n, f in found.items() if f} == {
        "Widget": ("FromMetaclass", "metaclass"), "Gadget": ("FromSdkHeader", "sdk-header"),
        "Gizmo": ("FromPhone", "ios-class-dump")}


def test_the_ios_dump_answers_only_where_nothing_else_does_and_is_marked() -> None:
    classes = _machine("12C60", knowledge=AncestryKnowledge(SMALL))
    classes.declare({"Gizmo": "Declared", "Gadget": "Declared"})
    gizmo, gadget = classes.fact("Gizmo"), classes.fact("Gadget")
    assert gizmo is not None and (gizmo.superclass, gizmo.kind) == ("Declared", "declared")
    assert gadget is not None and gadget.superclass == "FromSdkHeader"
    phone = AncestryKnowledge(SMALL).fact("Gizmo", None, tiers=(6,))
    assert phone is not None and phone.confidence == "low"
    assert phone.describe().startswith("iOS class dump, weaker for macOS, yoavst/")


def test_the_driverkit_graph_is_kept_apart() -> None:
    knowledge = AncestryKnowledge(SMALL)
    kernel, dext = knowledge.fact("Widget", None), knowledge.driverkit_fact("Widget")
    assert kernel is not None and kernel.superclass == "FromMetaclass"
    assert dext is not None and (dext.superclass, dext.kind) == ("OSObject", "iig")
    shipped = shipped_knowledge()
    hid = shipped.driverkit_fact("IOHIDDevice")
    assert hid is not None and hid.kind == "iig"
    assert ClassRegistry().chain("IOService") == ("IOService", "IORegistryEntry")


def test_the_shipped_kernel_graph_holds_no_driverkit_facts() -> None:
    shipped = shipped_knowledge()
    kinds = {KINDS[row[1]].tier for name in shipped.class_names()
             for row in shipped._kernel[name]}
    assert kinds <= {1, 2, 4, 6}
    assert not any(row[1] in ("iig", "driverkit-header") for name in shipped.class_names()
                   for row in shipped._kernel[name])


# -- provenance text -----------------------------------------------------------------------

def test_provenance_names_each_link_its_source_and_the_mac_it_was_recorded_on() -> None:
    classes = _machine("11G63")
    text = classes.describe_ancestry("AppleHDAEngineOutput", "IOAudioEngine")
    assert text.startswith("AppleHDAEngineOutput is an IOAudioEngine (")
    assert "AppleHDAEngineOutput : AppleHDAEngine, archive chain, " in text
    assert "AppleHDAEngine : IOAudioEngine, archive chain, " in text
    assert " 11E2705 in khronokernel/DarwinDumped" in text  # the nearest build to 11G63


def test_provenance_of_an_open_source_fact_names_repository_path_and_ref() -> None:
    fact = _machine("12C60").cited_fact("IOATABlockStorageDevice")
    assert fact is not None and fact.kind == "metaclass"
    assert fact.describe().startswith("open-source metaclass, apple-oss-distributions/"
                                      "IOATABlockStorage IOATABlockStorageDevice.cpp (main, ")


def test_a_hand_table_entry_is_cited_by_the_public_fact_that_agrees() -> None:
    classes = _machine("11G63")
    assert classes.fact("IOACPIPlatformDevice") is not None
    cited = classes.cited_fact("IOACPIPlatformDevice")
    assert cited is not None and cited.kind == "archive"
    # A class defined in code (the SDK's IOResources) carries its chain itself: no fact.
    assert classes.describe_ancestry("IOResources", "IOService") == ""


_NAMES = st.sampled_from(["AppleMCCSControlModule", "IOUserServer", "AppleHDAEngineOutput",
                          "IOUSBRootHubDevice", "Vendor", "Loop", "IOService", ""])


@settings(max_examples=120, deadline=None)
@given(recorded=st.dictionaries(_NAMES, _NAMES, max_size=5),
       build=st.one_of(st.none(), st.sampled_from(["9L30", "11A511", "12C60", "22A380"]),
                       st.text(max_size=8)))
def test_any_machine_record_resolves_or_fails_with_our_diagnostic(
        recorded: dict[str, str], build: str | None) -> None:
    registry = ClassRegistry()
    registry.use_machine(recorded, {"OS Build Version": build} if build is not None else {})
    for name in recorded:
        try:
            cls = registry.resolve(name, default_super="IOService")
        except UnknownClassError as error:  # a loop or a class its own superclass
            assert error.ref == "class-unknown"
            continue
        assert cls.class_chain[0] == name or not name.isidentifier() or name == "IOService"
        registry.describe_ancestry(name, "IOService")
