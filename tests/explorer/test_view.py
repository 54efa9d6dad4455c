"""One snapshot as the explorer shows it: plane trees, entries and search, from the same
snapshot ``ioreg --kernel`` reads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.service import IOService

from iokit_host.explorer.view import MAX_QUERY, MAX_RESULTS, RegistryView
from iokit_host.host import IOKitHost
from iokit_host.registry import IORegistry
from iokit_host.server import snapshot


@pytest.fixture(scope="module")
def view() -> RegistryView:
    return RegistryView(snapshot.take(IOKitHost().boot().registry), generation=3)


def test_the_tree_holds_every_entry_of_the_plane_with_its_children_in_order(
        view: RegistryView) -> None:
    tree = view.plane_tree("IOService")
    names = {node[0] for node in tree["nodes"].values()}
    assert {"Root", "ARPT", "AppleBCM43xx", "IOPCI2PCIBridge"} <= names
    for entry_id, (_, _, _, children) in tree["nodes"].items():
        entry = view.entry(entry_id)
        assert entry is not None
        assert children == [c.get_registry_entry_id()
                            for c in entry.get_child_entries("IOService")]


def test_an_entry_shows_its_state_busy_time_and_a_path_in_each_plane(
        view: RegistryView) -> None:
    (hit,), _ = view.search("ARPT", "name")
    entry = view.entry(hit.entry_id)
    assert entry is not None
    details = view.details(entry)
    assert details["state"]["registered"] and details["state"]["active"]
    assert details["state"]["busy_time_ms"] >= 0
    assert set(details["paths"]) == {"IOService", "IOPower"}
    assert details["chain"][-1] == "IOPCIDevice"


def test_search_reports_the_field_that_matched(view: RegistryView) -> None:
    hits, total = view.search("IOFirmwareVersion")
    assert total == 1 and hits[0].why == "property IOFirmwareVersion"
    hits, _ = view.search("iopcidevice", "class")
    assert {h.why for h in hits} == {"class"}
    assert len(hits) > 5


def test_data_holding_text_is_searched(view: RegistryView) -> None:
    hits, _ = view.search("pciclass,028000", "property")  # ARPT's compatible, a data value
    assert "ARPT@0" in {h.label for h in hits}


@pytest.mark.parametrize(("query", "field"), [("", "any"), ("   ", "any"),
                                              ("x" * (MAX_QUERY + 1), "any"), ("a", "color")])
def test_a_search_it_cannot_run_is_refused(view: RegistryView, query: str, field: str) -> None:
    with pytest.raises(ValueError):
        view.search(query, field)


def test_results_are_bounded_and_counted() -> None:
    registry = IORegistry()
    parent = IOService(name="Hub")
    registry.attach(parent, registry.root, "IOService")
    for index in range(MAX_RESULTS + 20):
        registry.attach(IOService(name=f"Port{index}"), parent, "IOService")
    hits, total = RegistryView(snapshot.take(registry)).search("port", "name")
    assert len(hits) == MAX_RESULTS and total == MAX_RESULTS + 20


def test_a_registry_thousands_deep_is_walked_without_recursion() -> None:
    registry = IORegistry()
    node: IORegistryEntry = registry.root
    for index in range(3000):
        child = IORegistryEntry(name=f"N{index}")
        registry.attach(child, node, "IODeviceTree")
        node = child
    tree = RegistryView(snapshot.take(registry)).plane_tree("IODeviceTree")
    assert len(tree["nodes"]) == 3001


@settings(max_examples=150, deadline=None)
@given(query=st.text(max_size=300), field=st.sampled_from(["any", "name", "class",
                                                             "property", "bogus"]))
def test_any_search_text_gives_hits_or_our_refusal(view: RegistryView, query: str,
                                                    field: str) -> None:
    try:
        hits, total = view.search(query, field)
    except ValueError as refused:
        assert "search" in str(refused)
        return
    assert total >= len(hits)
