"""The generic matchInternal key checks: their order, their answers, and lazy reasons."""

from __future__ import annotations

from iokit_sdk import IOService

from iokit_host.matching.generic_keys import compile_rules, match_name, match_provider_class


def _run(personality: dict[str, object], nub: IOService) -> list[str]:
    """The keys of every failing check, in the order compile_rules runs them."""
    failed = []
    for rule, wanted in compile_rules(personality):
        if (failure := rule(wanted, nub, None)) is not None:
            failed.append(failure[0])
    return failed


def test_checks_run_in_match_internal_order_whatever_the_dictionary_order() -> None:
    nub = IOService({"kind": 1}, name="nub", location="3")
    personality = {"BSD Name": "disk0", "IOPropertyExistsMatch": "absent",
                   "IOPropertyMatch": {"kind": 2}, "IOLocationMatch": "4"}
    assert _run(personality, nub) == [
        "IOLocationMatch", "IOPropertyMatch", "IOPropertyExistsMatch", "BSD Name"]
    assert _run({"IOPropertyMatch": [{"kind": 2}, {"kind": 1}], "IOLocationMatch": "3"},
                nub) == []


def test_a_property_mismatch_is_explained_only_when_asked() -> None:
    nub = IOService({"kind": 1}, name="nub")
    ((rule, wanted),) = compile_rules({"IOPropertyMatch": {"kind": 2}})
    failure = rule(wanted, nub, None)
    assert failure is not None
    key, reason = failure
    assert key == "IOPropertyMatch"
    assert callable(reason)
    assert reason() == "'kind' is 1, not 2"


def test_provider_class_and_name_answer_with_what_matched_or_why_not() -> None:
    nub = IOService(name="pci14e4,4331")
    assert match_provider_class("IOService", nub) is None
    why = "IOService is not a IOPCIDevice (class chain IOService > IORegistryEntry)"
    assert match_provider_class("IOPCIDevice", nub) == ("IOProviderClass", why)
    assert match_name(["nope", "pci14e4,4331"], nub) == ("pci14e4,4331", None)
    matched, failure = match_name("nope", nub)
    assert matched is None
    assert failure is not None and failure[0] == "IONameMatch"
