"""IOCatalogue: indexing by provider class, class-chain lookup, score order, duplicates."""

from __future__ import annotations

from iokit_sdk import IOService
from iokit_sdk.values import OSNumber

from iokit_host.matching.catalogue import IOCatalogue, probe_score
from iokit_host.matching.classes import ClassRegistry


def _nub(class_name: str) -> IOService:
    cls = ClassRegistry().resolve(class_name, default_super="IOService")
    nub = cls()
    assert isinstance(nub, IOService)
    return nub


def _names(entries: list) -> list[str]:
    return [e.name for e in entries]


def test_candidates_walk_the_class_chain_and_sort_by_score_fifo_on_ties() -> None:
    catalogue = IOCatalogue()
    catalogue.add_personalities([
        ("service-low", {"IOProviderClass": "IOService", "IOClass": "A", "IOProbeScore": 10}),
        ("pci-first", {"IOProviderClass": "IOPCIDevice", "IOClass": "B", "IOProbeScore": 10}),
        ("pci-second", {"IOProviderClass": "IOPCIDevice", "IOClass": "C", "IOProbeScore": 10}),
        ("agp-best", {"IOProviderClass": "IOAGPDevice", "IOClass": "D", "IOProbeScore": 50}),
        ("agp-tie", {"IOProviderClass": "IOAGPDevice", "IOClass": "E", "IOProbeScore": 10}),
        ("entry", {"IOProviderClass": "IORegistryEntry", "IOClass": "F"}),
    ])
    found = catalogue.find_drivers(_nub("IOAGPDevice"))
    # most derived class first among equal scores, then insertion order; never past IOService
    assert _names(found) == ["agp-best", "agp-tie", "pci-first", "pci-second", "service-low"]
    assert _names(catalogue.find_drivers(_nub("IOPCIDevice"))) == [
        "pci-first", "pci-second", "service-low"]


def test_scores_missing_or_not_numbers_count_as_zero_and_wrap_as_sint32() -> None:
    assert probe_score({}) == 0
    assert probe_score({"IOProbeScore": "5000"}) == 0
    assert probe_score({"IOProbeScore": True}) == 0
    assert probe_score({"IOProbeScore": 0xFFFFFFFF}) == -1
    catalogue = IOCatalogue()
    catalogue.add_personalities([
        ("stringy", {"IOProviderClass": "IOService", "IOClass": "A", "IOProbeScore": "900"}),
        ("negative", {"IOProviderClass": "IOService", "IOClass": "B", "IOProbeScore": -5}),
        ("plain", {"IOProviderClass": "IOService", "IOClass": "C", "IOProbeScore": 1}),
    ])
    assert _names(catalogue.find_drivers(_nub("IOPCIDevice"))) == ["plain", "stringy", "negative"]


def test_exact_duplicates_are_dropped_but_supersets_kept_and_generation_counts() -> None:
    catalogue = IOCatalogue()
    base = {"IOProviderClass": "IOPCIDevice", "IOClass": "A", "IOProbeScore": 5}
    assert catalogue.generation == 0
    catalogue.add_personalities([("one", base)])
    catalogue.add_personalities([("again", dict(base)),
                                 ("superset", {**base, "IOMatchCategory": "X"}),
                                 ("no-provider", {"IOClass": "Z"})])
    assert catalogue.generation == 2
    assert _names(catalogue.find_drivers(_nub("IOPCIDevice"))) == ["one", "superset"]
    assert len(catalogue) == 2


def test_the_candidates_found_follow_every_change_and_are_the_callers_to_change() -> None:
    """The answer for a class chain is kept until the catalogue changes (a boot asks once
    per nub); a kext added or removed since is seen, and a list changed by its caller is
    not handed to the next."""
    catalogue = IOCatalogue()
    catalogue.add_personalities([
        ("a", {"IOProviderClass": "IOPCIDevice", "IOClass": "A", "CFBundleIdentifier": "x.a",
               "IOProbeScore": 1})])
    found = catalogue.find_drivers(_nub("IOPCIDevice"))
    found.clear()
    assert _names(catalogue.find_drivers(_nub("IOPCIDevice"))) == ["a"]
    catalogue.add_personalities([
        ("b", {"IOProviderClass": "IOService", "IOClass": "B", "CFBundleIdentifier": "x.b",
               "IOProbeScore": 2})])
    assert _names(catalogue.find_drivers(_nub("IOPCIDevice"))) == ["b", "a"]
    assert catalogue.remove_bundle("x.b") == 1
    assert _names(catalogue.find_drivers(_nub("IOPCIDevice"))) == ["a"]
    assert _names(catalogue.find_drivers(_nub("IOService"))) == []


def test_remove_bundle_drops_its_personalities() -> None:
    catalogue = IOCatalogue()
    catalogue.add_personalities([
        ("a", {"IOProviderClass": "IOPCIDevice", "IOClass": "A", "CFBundleIdentifier": "x.a"}),
        ("b", {"IOProviderClass": "IOPCIDevice", "IOClass": "B", "CFBundleIdentifier": "x.b"}),
    ])
    assert catalogue.remove_bundle("x.a") == 1
    assert _names(catalogue.find_drivers(_nub("IOPCIDevice"))) == ["b"]


def test_a_personality_equal_in_libkern_terms_is_a_duplicate_and_removal_forgets_it() -> None:
    # isEqualTo, not Python equality: a number of another width and a NUL-terminated data copy
    # of a string are the same personality; once its bundle is removed it can be added again.
    catalogue = IOCatalogue()
    base = {"IOProviderClass": "IOPCIDevice", "IOClass": "A", "IOProbeScore": 5,
            "IONameMatch": ["pci14e4,4331"], "CFBundleIdentifier": "x.a"}
    twin = {"IOProviderClass": "IOPCIDevice", "IOClass": b"A\x00",
            "IOProbeScore": OSNumber(5, 32), "IONameMatch": ("pci14e4,4331",),
            "CFBundleIdentifier": "x.a"}
    assert len(catalogue.add_personalities([("one", base), ("twin", twin)])) == 1
    assert catalogue.remove_bundle("x.a") == 1
    assert _names(catalogue.add_personalities([("twin", twin)])) == ["twin"]


# -- the PCI vendor index ----------------------------------------------------------------------
def _pci(name: str, score: int, **keys: object) -> tuple[str, dict[str, object]]:
    return name, {"IOProviderClass": "IOPCIDevice", "IOClass": name, "IOProbeScore": score,
                  **keys}


def test_a_pci_nub_is_offered_only_personalities_its_vendor_ids_allow_in_catalogue_order() -> None:
    catalogue = IOCatalogue()
    catalogue.add_personalities([
        _pci("intel-nic", 10, IOPCIMatch="0x10d38086 0x153a8086"),
        _pci("broadcom", 10, IOPCIMatch="0x16b414e4"),
        _pci("by-class", 10, IOPCIClassMatch="0x02000000&0xffff0000"),
        _pci("intel-masked", 30, IOPCIMatch="0x00008086&0x0000ffff"),
        _pci("apple-subsystem", 10, IOPCISecondaryMatch="0x00f0106b"),
        _pci("any-device-id", 20, IOPCIPrimaryMatch="0x10d30000&0xffff0000"),
        ("generic", {"IOProviderClass": "IOService", "IOClass": "G"}),
    ])
    nub = _nub("IOPCIDevice")
    everything = catalogue.find_drivers(nub)
    assert len(everything) == 7  # findDrivers (explain's list) keeps them all
    intel_on_apple = catalogue.find_candidates(nub, (0x8086, 0x106B))
    assert _names(intel_on_apple) == ["intel-masked", "any-device-id", "intel-nic", "by-class",
                                      "apple-subsystem", "generic"]
    assert _names(catalogue.find_candidates(nub, (0x1AF4, 0x1AF4))) == [
        "any-device-id", "by-class", "generic"]
    assert catalogue.find_candidates(nub, None) == everything


def test_removing_a_kext_takes_its_personalities_out_of_the_vendor_index() -> None:
    catalogue = IOCatalogue()
    catalogue.add_personalities([_pci("a", 1, IOPCIMatch="0x12348086",
                                      CFBundleIdentifier="com.a")])
    catalogue.add_personalities([_pci("b", 1, IOPCIMatch="0x56788086",
                                      CFBundleIdentifier="com.b")])
    catalogue.remove_bundle("com.a")
    assert _names(catalogue.find_candidates(_nub("IOPCIDevice"), (0x8086, 0))) == ["b"]
