"""Passive matching: matchInternal's keys and order, family hook, parents, resources."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from iokit_sdk import IOResources, IOService, OSNumber

from iokit_host.matching import families
from iokit_host.matching.classes import ClassRegistry
from iokit_host.matching.passive import match_passive
from iokit_host.registry import IORegistry


def _entry(class_name: str = "IOPCIDevice", props: dict[str, Any] | None = None,
           name: str | None = None, location: str | None = None) -> IOService:
    cls = ClassRegistry().resolve(class_name, default_super="IOService")
    entry = cls(props or {}, name=name, location=location)
    assert isinstance(entry, IOService)
    return entry


def test_provider_class_uses_the_class_chain() -> None:
    agp = _entry("IOAGPDevice")
    assert match_passive({"IOProviderClass": "IOPCIDevice"}, agp).matched
    result = match_passive({"IOProviderClass": "IOUSBHostDevice"}, agp)
    assert (result.matched, result.failed_key) == (False, "IOProviderClass")
    assert "IOAGPDevice is not a IOUSBHostDevice" in (result.reason or "")
    assert match_passive({"IOProviderClass": "IOUSBHostDevice"}, agp,
                         check_provider_class=False).matched


def test_name_match_string_or_array_records_the_name_matched() -> None:
    nub = _entry("IOService", name="pci8086,1234")
    result = match_passive({"IONameMatch": ["pci1,1", "pci8086,1234"]}, nub)
    assert result.matched and result.name_matched == "pci8086,1234"
    failed = match_passive({"IONameMatch": "other"}, nub)
    assert failed.failed_key == "IONameMatch" and "pci8086,1234" in (failed.reason or "")


def test_first_failure_short_circuits_in_match_internal_order() -> None:
    nub = _entry(props={"a": 1}, location="3")
    table = {"IOPropertyMatch": {"a": 2}, "IOLocationMatch": "4", "IONameMatch": "nope"}
    assert match_passive(table, nub).failed_key == "IONameMatch"
    del table["IONameMatch"]
    assert match_passive(table, nub).failed_key == "IOLocationMatch"
    table["IOLocationMatch"] = "3"
    assert match_passive(table, nub).failed_key == "IOPropertyMatch"


def test_property_match_uses_libkern_equality_and_array_means_any() -> None:
    nub = _entry(props={"model": b"Wi-Fi\x00", "count": OSNumber(5, 16)})
    assert match_passive({"IOPropertyMatch": {"model": "Wi-Fi", "count": 5}}, nub).matched
    either = {"IOPropertyMatch": [{"count": 6}, {"model": "Wi-Fi"}]}
    assert match_passive(either, nub).matched
    missing = match_passive({"IOPropertyMatch": {"absent": 1}}, nub)
    assert missing.reason == "the nub has no property 'absent'"
    exists = {"IOPropertyExistsMatch": ["nothing", "count"]}
    assert match_passive(exists, nub).matched
    assert not match_passive({"IOPropertyExistsMatch": "nothing"}, nub).matched


def test_user_service_properties_merge_for_matching() -> None:
    nub = _entry(props={"IOUserServiceProperties": {"role": "wifi"}})
    assert match_passive({"IOPropertyMatch": {"role": "wifi"}}, nub).matched


def test_entry_id_path_and_bsd_keys() -> None:
    registry = IORegistry()
    root = _entry("IOPlatformExpertDevice", name="Mac")
    nub = _entry(name="disk", props={"BSD Name": "disk0"})
    registry.attach(root, registry.root, "IOService")
    registry.attach(nub, root, "IOService")
    assert match_passive({"IORegistryEntryID": nub.get_registry_entry_id()}, nub).matched
    assert not match_passive({"IORegistryEntryID": 1}, nub).matched
    assert match_passive({"IOPathMatch": "IOService:/disk"}, nub, registry=registry).matched
    assert match_passive({"IOPathMatch": "IOService:/other"}, nub,
                         registry=registry).failed_key == "IOPathMatch"
    assert match_passive({"BSD Name": "disk0"}, nub).matched
    assert match_passive({"BSD Name": "disk1"}, nub).failed_key == "BSD Name"


def test_family_hook_runs_only_for_unconsumed_keys_and_may_change_the_score(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []

    def matcher(nub: Any, table: Any, score: int) -> tuple[bool, int]:
        seen.append(dict(table))
        return table.get("IOPCIMatch") != "0xdead", score + 1000

    monkeypatch.setattr(families, "family_matcher_for", lambda nub: matcher)
    monkeypatch.setattr(families, "family_rules_for", lambda nub: None)  # no compiled form
    nub = _entry()
    bare = {"IOProviderClass": "IOPCIDevice", "IOClass": "X", "IOProbeScore": 7,
            "CFBundleIdentifier": "x", "IOMatchCategory": "c"}
    assert match_passive(bare, nub).score == 7 and seen == []
    result = match_passive({**bare, "IOPCIMatch": "0x12348086"}, nub)
    assert (result.matched, result.score, len(seen)) == (True, 1007, 1)
    refused = match_passive({**bare, "IOPCIMatch": "0xdead"}, nub)
    assert (refused.matched, refused.failed_key) == (False, "IOPCIMatch")


def test_parent_match_walks_ancestors_not_the_nub() -> None:
    registry = IORegistry()
    bridge = _entry("IOPCIBridge", props={"bus": 1})
    nub = _entry(props={"bus": 2})
    registry.attach(bridge, registry.root, "IOService")
    registry.attach(nub, bridge, "IOService")
    assert match_passive({"IOParentMatch": {"IOPropertyMatch": {"bus": 1}}}, nub).matched
    result = match_passive({"IOParentMatch": {"IOPropertyMatch": {"bus": 2}}}, nub)
    assert result.failed_key == "IOParentMatch"


NESTING = 30


def test_nested_parent_matches_take_one_walk_up_whatever_their_nesting(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each IOParentMatch table matched against every ancestor, each walking up again for
    the next, cost depth ** nesting: six deep over forty levels took 95 s."""
    from iokit_host.matching import passive

    registry = IORegistry()
    chain = [_entry("IOService", props={"level": i}) for i in range(40)]
    registry.attach(chain[0], registry.root, "IOService")
    for parent, child in itertools.pairwise(chain):
        registry.attach(child, parent, "IOService")
    calls: list[IOService] = []
    real = passive.match_passive

    def counted(table: Any, nub: IOService, **options: Any) -> passive.PassiveMatch:
        calls.append(nub)
        return real(table, nub, **options)
    monkeypatch.setattr(passive, "match_passive", counted)

    def nested(levels: list[int | None]) -> dict[str, Any]:
        table: dict[str, Any] = {}
        for level in reversed(levels):
            table = {"IOParentMatch": {**table, **(
                {"IOPropertyMatch": {"level": level}} if level is not None else
                {"IOProviderClass": "NoSuchClass"})}}
        return table
    deep: dict[str, Any] = {"IOProviderClass": "NoSuchClass"}  # no ancestor is one
    for _ in range(NESTING):
        deep = {"IOParentMatch": deep}
    assert not real(deep, chain[-1]).matched
    assert len(calls) <= len(chain)  # one per ancestor (the root among them)
    assert real(nested([30, 29, 2]), chain[-1]).matched  # nearest first, then on up
    assert not real(nested([30, 31]), chain[-1]).matched  # 31 is below 30, not above
    assert real(nested([38, 1, 0]), chain[-1]).matched
    assert not real(nested([38, 1, 0, 0]), chain[-1]).matched


def test_resource_match_on_iokit_resources_needs_all_names() -> None:
    resources = IOResources({"IOKit": "IOService", "IOBSD": "IOService"})
    assert match_passive({"IOResourceMatch": ["IOKit", "IOBSD"]}, resources).matched
    result = match_passive({"IOResourceMatch": ["IOKit", "FakeSMCKeyStore"]}, resources)
    assert result.failed_key == "IOResourceMatch"
    assert "'FakeSMCKeyStore' is not published" in (result.reason or "")


def test_resource_match_elsewhere_gates_start_instead_of_matching() -> None:
    nub = _entry()
    result = match_passive({"IOResourceMatch": "Radio"}, nub,
                           resources={"IOKit": "IOService"})
    assert result.matched
    assert (result.resources, result.waiting_for) == (("Radio",), ("Radio",))
    ready = match_passive({"IOResourceMatch": "Radio"}, nub, resources={"Radio": True})
    assert ready.waiting_for == ()


def test_match_passive_is_pure() -> None:
    nub = _entry("IOService", props={"a": 1}, name="n")
    table = {"IONameMatch": "n", "IOPropertyMatch": {"a": 1}, "IOProbeScore": 3}
    before = (dict(table), dict(nub.properties))
    assert match_passive(table, nub).matched
    assert (dict(table), dict(nub.properties)) == before
