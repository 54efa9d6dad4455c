"""Matching keys' types: malformed keys are named when the kext is read, real plists raise none."""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any

import pytest

from iokit_host.kext.match_key_types import check_match_keys


@pytest.mark.parametrize("personality", [
    {"IONameMatch": "pci14e4,4331"}, {"IONameMatch": ["a", "b*"]},
    {"IOPropertyMatch": {"a": 1}}, {"IOPropertyMatch": [{"a": 1}, {"b": [1, 2]}]},
    {"IOPropertyExistsMatch": ["x"]}, {"IOResourceMatch": "IOKit"},
    {"IOLocationMatch": "1"}, {"IOLocationMatch": {"IOProviderClass": "X"}},
    {"IOParentMatch": {"IOProviderClass": "X"}}, {"IORegistryEntryID": 5},
    {"IOPCIMatch": "0x43311028&0xffffffff 0x14e4 "}, {"IOPCIClassMatch": "0x02000000&0xffff0000"},
    {"IOPCIPrimaryMatch": "00008086&0000ffff"},
    {"idVendor": 1452, "idProduct": "*", "idProductArray": [1, 2], "idProductMask": 0xFF00},
    {"bInterfaceNumber": "*", "bConfigurationValue": 1}, {"SomeFamilyKey": 1.5},
])
def test_well_formed_keys_pass(personality: dict[str, Any]) -> None:
    assert check_match_keys(personality) == []


@pytest.mark.parametrize(("personality", "key", "reference", "words"), [
    ({"IOPCIMatch": "0xZZZZ14e4"}, "IOPCIMatch", "match-key-malformed", "'xZZZZ14e4'"),
    ({"IOPCIMatch": "0x14e4 and more"}, "IOPCIMatch", "match-key-malformed", "'nd more'"),
    ({"IOPCIClassMatch": ""}, "IOPCIClassMatch", "match-key-malformed", "no hex number"),
    ({"IOPCIMatch": "0x14e4&"}, "IOPCIMatch", "match-key-malformed", "every device"),
    ({"IOPCIMatch": {"a": "b"}}, "IOPCIMatch", "match-key-ill-typed", "a dictionary"),
    ({"IOPCIMatch": 0x14e4}, "IOPCIMatch", "match-key-ill-typed", "an integer (5348)"),
    ({"IONameMatch": {"pci14e4,4331": 1}}, "IONameMatch", "match-key-ill-typed", "never"),
    ({"IONameMatch": ["ok", 5]}, "IONameMatch[1]", "match-key-ill-typed", "skips"),
    ({"IOPropertyMatch": "vendor"}, "IOPropertyMatch", "match-key-ill-typed", "a string"),
    ({"IOPropertyMatch": [{"a": 1}, "b"]}, "IOPropertyMatch[1]", "match-key-ill-typed", "skips"),
    ({"IOPropertyExistsMatch": 5}, "IOPropertyExistsMatch", "match-key-ill-typed", "never"),
    ({"IOResourceMatch": {"IOKit": True}}, "IOResourceMatch", "match-key-ill-typed",
     "no resource"),
    ({"IOPathMatch": ["x"]}, "IOPathMatch", "match-key-ill-typed", "never"),
    ({"IOParentMatch": "x"}, "IOParentMatch", "match-key-ill-typed", "ignores"),
    ({"IORegistryEntryID": "5"}, "IORegistryEntryID", "match-key-ill-typed", "never"),
    ({"BSD Unit": True}, "BSD Unit", "match-key-ill-typed", "a boolean"),
    ({"idVendor": "1452"}, "idVendor", "match-key-ill-typed", "a string ('1452')"),
    ({"bcdDevice": [1]}, "bcdDevice", "match-key-ill-typed", "never equals"),
    ({"idProductArray": 5}, "idProductArray", "match-key-ill-typed", "no product id"),
    ({"idProductArray": [1, "2"]}, "idProductArray[1]", "match-key-ill-typed", "skips"),
    ({"idProductMask": "0xff00"}, "idProductMask", "match-key-ill-typed", "ignores"),
])
def test_malformed_keys_are_named(personality: dict[str, Any], key: str, reference: str,
                                  words: str) -> None:
    [problem] = check_match_keys(personality)
    assert (problem.key, problem.reference) == (key, reference)
    assert words in problem.message
    assert problem.got in problem.message
    assert problem.expected in problem.message or reference == "match-key-malformed"


def _personalities(corpus: Path) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for file in sorted([*(corpus / "plists").iterdir(), *(corpus / "dext").iterdir()]):
        info = plistlib.loads(file.read_bytes())
        for key in (k for k in info if k.startswith("IOKitPersonalities")):
            found += [(file.name, name, p) for name, p in info[key].items()]
    return found


def test_no_real_plist_has_a_malformed_match_key(corpus: Path) -> None:
    personalities = _personalities(corpus)
    assert len(personalities) >= 150
    problems = [(file, name, p.key) for file, name, personality in personalities
                for p in check_match_keys(personality)]
    assert problems == []


def test_a_huge_pci_match_list_is_checked_in_bounded_memory() -> None:
    """The well-formedness pattern's repeated group kept state per word: a 22 MB IOPCIMatch
    took 1 GB to check (a few MB of working memory now, whatever the length)."""
    import tracemalloc

    words = " ".join(["0x12348086&0xffffffff"] * 200_000)  # 4.4 MB
    tracemalloc.start()
    try:
        problems = check_match_keys({"IOPCIMatch": words})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problems == [] and peak < 4 << 20
