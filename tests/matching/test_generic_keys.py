"""The generic matchInternal key checks: their order, their answers, and lazy reasons."""

from __future__ import annotations

import pytest
from iokit_sdk import IOService
from iokit_sdk.values import OSNumber

from iokit_host.matching.generic_keys import (
    compile_rules,
    match_name,
    match_provider_class,
    rule_tests,
)


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


def test_a_name_failure_names_what_the_family_compared_not_the_entry_name() -> None:
    # An IOPCIDevice is matched by its name/compatible properties (IODTCompareNubName): the
    # reason quoted the entry name ('ARPT') that was never compared, and matched it.
    from iokit_host.matching.families.names import compared_names, dt_compare_nub_name

    class IOPCIDevice(IOService):
        pass

    nub = IOPCIDevice({"name": b"pci14e4,4331\0", "compatible": b"pci106b,d6\0pciclass\0"},
                      name="ARPT")
    _, failure = match_name(["ARPT"], nub)
    assert failure is not None
    reason = failure[1]() if callable(failure[1]) else failure[1]
    assert reason == ("none of ['ARPT'] matches: name 'pci14e4,4331'; compatible "
                      "'pci106b,d6', 'pciclass'")
    assert compared_names(IOService(name="x"), dt_compare_nub_name) == (
        "no name, compatible, device_type or model property")
    _, plain = match_name("y", IOService(name="x"))
    assert plain is not None and callable(plain[1]) and plain[1]() == (
        "none of ['y'] matches: the entry name 'x'")


@pytest.mark.parametrize("wanted", [
    {"kind": 1}, {"kind": 2}, {"kind": OSNumber(1, 8)}, {"kind": "1"}, {"absent": 1},
    {"user": b"yes\0"}, {"user": "no"}, [{"kind": 2}, {"user": "yes"}], [], {},
    {"list": [1, 2]}, {"list": [2, 1]}])
def test_the_tests_the_binder_runs_inline_answer_as_the_rules_do(wanted: object) -> None:
    """The binder's inline pass runs each rule's test (no failure made) where one exists:
    it must fail exactly where the rule does, merged user properties and libkern's equality
    across widths and types included."""
    nub = IOService({"kind": 1, "list": [1, 2], "IOUserServiceProperties": {"user": "yes"}},
                    name="nub")
    rules = compile_rules({"IOPropertyMatch": wanted, "IOLocationMatch": "3"})
    tests = rule_tests(rules)
    assert [test is not rule for (test, _), (rule, _) in zip(tests, rules)] == [False, True]
    assert [test(value, nub, None) is None for test, value in tests] == \
        [rule(value, nub, None) is None for rule, value in rules]
