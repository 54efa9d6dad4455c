"""PCI family matching (IOPCIBridge::pciMatchNub / matchKeys), incl. Appendix B scenario 2."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.entry import IORegistryEntry

from iokit_host.matching.classes import ClassRegistry
from iokit_host.matching.families import family_matcher_for
from iokit_host.matching.families.pci import (
    TunnelPolicy,
    compile_pci_table,
    match_keys,
    pci_facts,
    pci_failed_key,
    pci_failure,
    pci_family_match,
    pci_match_property_table,
    pci_registers,
)


def le(value: int) -> bytes:
    return value.to_bytes(4, "little")


def pci_nub(vendor: int = 0x8086, device: int = 0x1234, *, sub_vendor: int = 0x106B,
            sub_device: int = 0x00F0, class_code: int = 0x020000, revision: int = 0x03,
            **extra: Any) -> IORegistryEntry:
    cls = ClassRegistry().resolve("IOPCIDevice")
    props = {"vendor-id": le(vendor), "device-id": le(device), "subsystem-vendor-id": le(sub_vendor),
             "subsystem-id": le(sub_device), "class-code": le(class_code),
             "revision-id": le(revision), **extra}
    return cls(props, name="ethernet")


def test_scenario_2_vendor_mask_entry_matches_any_device_of_the_vendor() -> None:
    keys = "0x12348086 0x00008086&0x0000ffff"
    assert pci_match_property_table(pci_nub(device=0x1234), {"IOPCIMatch": keys}, 0)[0]
    assert pci_match_property_table(pci_nub(device=0x10D3), {"IOPCIMatch": keys}, 0)[0]
    assert not pci_match_property_table(pci_nub(vendor=0x14E4), {"IOPCIMatch": keys}, 0)[0]


def test_scenario_2_bonus_only_on_arm64() -> None:
    table = {"IOPCIMatch": "0x12348086"}
    assert pci_match_property_table(pci_nub(), table, 100) == (True, 100)
    assert pci_match_property_table(pci_nub(), table, 100, arch="arm64") == (True, 1100)


def test_scenario_2_class_match_and_pci_match_must_both_hold() -> None:
    ethernet = {"IOPCIClassMatch": "0x02000000&0xffff0000"}
    assert pci_match_property_table(pci_nub(class_code=0x020000), ethernet, 0)[0]
    assert not pci_match_property_table(pci_nub(class_code=0x030000), ethernet, 0)[0]
    both = {**ethernet, "IOPCIMatch": "0x12348086"}
    assert pci_match_property_table(pci_nub(), both, 0)[0]
    assert not pci_match_property_table(pci_nub(device=0x9999), both, 0)[0]
    assert pci_failed_key(pci_nub(device=0x9999), both) == "IOPCIMatch"
    assert pci_failed_key(pci_nub(class_code=0x030000), both) == "IOPCIClassMatch"


def test_pci_match_falls_back_to_subsystem_register_without_bonus() -> None:
    table = {"IOPCIMatch": "0x00f0106b"}
    assert pci_match_property_table(pci_nub(), table, 0, arch="arm64") == (True, 0)


def test_primary_and_secondary_keys_read_one_register_each() -> None:
    nub = pci_nub()
    assert pci_match_property_table(nub, {"IOPCIPrimaryMatch": "0x12348086"}, 0, arch="arm64") == (
        True, 0)
    assert not pci_match_property_table(nub, {"IOPCIPrimaryMatch": "0x00f0106b"}, 0)[0]
    assert pci_match_property_table(nub, {"IOPCISecondaryMatch": "0x00f0106b"}, 0)[0]
    assert not pci_match_property_table(nub, {"IOPCISecondaryMatch": "0x12348086"}, 0)[0]


def test_class_match_default_mask_ignores_revision() -> None:
    assert match_keys("0x02000000", 0x02000003, 0xFFFFFF00)
    assert not match_keys("0x02000000", 0x02000003, 0xFFFFFFFF)


@pytest.mark.parametrize(("keys", "expected"), [
    ("01168086", True),  # 0x prefix optional (strtoul base 16)
    ("0x11118086 junk 0x01168086", False),  # parsing stops at the first non-number
    ("0x1111  &0x0000ffff", False),  # spaces before '&' are allowed
    ("0x8086  &0x0000ffff", True),
    ("0x0000-0x9999", False),  # no range syntax
    (12345, False),  # not a string
])
def test_match_keys_syntax(keys: object, expected: bool) -> None:
    assert match_keys(keys, 0x01168086, 0xFFFFFFFF) is expected


def test_registers_little_and_big_endian_cells() -> None:
    intel = pci_nub(vendor=0x8086, device=0x100F, class_code=0x030000)
    regs = pci_registers(intel)
    assert (regs.id, regs.class_revision >> 8) == (0x100F8086, 0x030000)
    cls = ClassRegistry().resolve("IOPCIDevice")
    ppc = cls({"vendor-id": bytes.fromhex("0000106b"), "device-id": bytes.fromhex("00000022"),
               "class-code": bytes.fromhex("00030000")})
    regs = pci_registers(ppc)
    assert (regs.id, regs.class_revision >> 8) == (0x0022106B, 0x030000)


def test_tunnelled_nub_needs_tunnel_compatible_except_for_pci_bridges() -> None:
    nub = pci_nub(IOPCITunnelled=True)
    table = {"IOPCIMatch": "0x12348086", "IOClass": "MyDriver"}
    assert not pci_match_property_table(nub, table, 0)[0]
    assert pci_failed_key(nub, table) == "IOPCITunnelCompatible"
    assert pci_match_property_table(nub, {**table, "IOPCITunnelCompatible": True}, 0)[0]
    assert pci_match_property_table(nub, {**table, "IOClass": "IOPCI2PCIBridge"}, 0)[0]
    lenient = TunnelPolicy(check_tunnel=False)
    assert pci_match_property_table(nub, table, 0, policy=lenient)[0]
    assert not pci_match_property_table(nub, {**table, "IOPCITunnelCompatible": False}, 0,
                                        policy=lenient)[0]
    assert pci_match_property_table(pci_nub(), table, 0)[0]


def test_dispatch_finds_pci_matcher_for_subclasses() -> None:
    agp = ClassRegistry().resolve("IOAGPDevice")()
    assert family_matcher_for(agp) is pci_match_property_table


def test_unknown_arch_is_refused() -> None:
    with pytest.raises(ValueError):
        pci_match_property_table(pci_nub(), {}, 0, arch="ppc")


def pci_reason(nub: IORegistryEntry, table: dict[str, Any]) -> tuple[str, str]:
    failure = pci_failure(nub, table)
    assert failure is not None
    return failure[0], failure[1]()


def test_a_refusal_names_the_key_its_values_and_the_registers() -> None:
    nub = pci_nub(vendor=0x8086, device=0x153A)
    why = ("wants 0x10d38086 0x10d40000&0xffff0000; device register is 0x153a8086, "
           "subsystem register is 0x00f0106b")
    assert pci_reason(nub, {"IOPCIMatch": "0x10d38086  0x10d40000&0xffff0000"}) == (
        "IOPCIMatch", why)
    assert pci_reason(nub, {"IOPCIClassMatch": "0x03000000"}) == (
        "IOPCIClassMatch", "wants 0x03000000; class register is 0x02000003")


def test_a_match_key_that_is_not_a_string_says_so() -> None:
    key, why = pci_reason(pci_nub(), {"IOPCIMatch": 0x12348086})
    assert key == "IOPCIMatch"
    assert why == "not a string of hex value&mask words but int 305430662, so it matches nothing"


def test_a_refusal_quotes_a_huge_match_list_clipped() -> None:
    """`iokit conformance` printed a 100,000-character line for one long IOPCIMatch."""
    key, reason = pci_reason(pci_nub(vendor=0x8086), {"IOPCIMatch": " ".join(
        ["0x" + "f" * 100_000] + ["0x12345678"] * 50_000)})
    assert key == "IOPCIMatch" and len(reason) < 400
    assert reason.startswith("wants 0xfff") and "(and 49993 more)" in reason


def test_a_match_has_no_failure() -> None:
    assert pci_failure(pci_nub(), {"IOPCIMatch": "0x12348086"}) is None


# -- compiled tables and the vendor bound ------------------------------------------------------
_WORDS = ["0x12348086", "0x8086&0xffff", "0x00008086&0x0000ffff", "0x02000000&0xffff0000",
          "8086", "&", "0x1234 & 0xff", "zz", "-0x5", "0x10de10de", "0x0000106b&0x0000fffe"]


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["IOPCIMatch", "IOPCIPrimaryMatch",
                                        "IOPCISecondaryMatch", "IOPCIClassMatch"]),
                       st.lists(st.sampled_from(_WORDS), max_size=3).map(" ".join)),
       st.sampled_from([0x8086, 0x10DE, 0x106B, 0x14E4]), st.sampled_from([0x106B, 0x8086, 0]))
def test_a_nub_outside_a_tables_vendor_bound_never_matches_it(
        table: dict[str, str], vendor: int, sub_vendor: int) -> None:
    form = compile_pci_table(table)
    nub = pci_nub(vendor, sub_vendor=sub_vendor)
    matched = pci_match_property_table(nub, table, 0)[0]
    if form.vendors is not None and not {vendor, sub_vendor} & form.vendors:
        assert not matched
    facts = pci_facts(nub)
    assert pci_family_match(form, facts, 0)[0] == matched
    failure = pci_failure(nub, table)
    refusal = pci_family_match(form, facts, 0)[2]
    assert (failure is None) == (refusal is None)
    if failure is not None and refusal is not None:
        assert (failure[0], failure[1]()) == (refusal[0], refusal[1]())


def test_a_vendor_masked_table_is_bound_to_its_vendor_and_a_class_match_to_none() -> None:
    assert compile_pci_table({"IOPCIMatch": "0x00008086&0x0000ffff 0x16b414e4"}).vendors == {
        0x8086, 0x14E4}
    assert compile_pci_table({"IOPCIClassMatch": "0x02000000&0xffff0000"}).vendors is None
    assert compile_pci_table({"IOPCIMatch": "0x00008086&0x0000ff00"}).vendors is None
    assert compile_pci_table({"IOPCIMatch": 5}).vendors == frozenset()  # matches nothing
