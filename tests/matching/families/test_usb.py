"""USB family matching (QA1076 ladders), incl. Appendix B scenario 3."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.values import OSNumber

from iokit_host.matching.classes import ClassRegistry
from iokit_host.matching.families import family_matcher_for
from iokit_host.matching.families.usb import usb_failed_key, usb_failure, usb_score

DEVICE = {"idVendor": 1452, "idProduct": 0x8509, "bcdDevice": 0x0516, "bDeviceClass": 239,
          "bDeviceSubClass": 2, "bDeviceProtocol": 1}
INTERFACE = {"idVendor": 1452, "idProduct": 0x8509, "bcdDevice": 0x0516,
             "bConfigurationValue": 1, "bInterfaceNumber": 0, "bInterfaceClass": 3,
             "bInterfaceSubClass": 1, "bInterfaceProtocol": 2}


def usb_nub(class_name: str, props: dict[str, Any], **changes: Any) -> IORegistryEntry:
    values = {k: OSNumber(v, 16) for k, v in {**props, **changes}.items()}
    return ClassRegistry().resolve(class_name)(values)


def match(nub: IORegistryEntry, table: dict[str, Any]) -> tuple[bool, int]:
    matcher = family_matcher_for(nub)
    assert matcher is not None
    return matcher(nub, table, 0)


@pytest.mark.parametrize("klass", ["IOUSBInterface", "IOUSBHostInterface"])
def test_scenario_3_vendor_product_on_an_interface_needs_config_and_number(klass: str) -> None:
    nub = usb_nub(klass, INTERFACE)
    assert match(nub, {"idVendor": 1452, "idProduct": 0x8509})[0] is False
    assert usb_failed_key(nub, {"idVendor": 1452, "idProduct": 0x8509},
                          interface=True) == "bConfigurationValue"
    full = {"idVendor": 1452, "idProduct": 0x8509, "bConfigurationValue": 1,
            "bInterfaceNumber": 0}
    assert match(nub, full) == (True, 90000)


@pytest.mark.parametrize("klass", ["IOUSBInterface", "IOUSBHostInterface"])
def test_scenario_3_hid_class_pair_scores_50000_plus_clamped_probe_score(klass: str) -> None:
    nub = usb_nub(klass, INTERFACE)
    table = {"bInterfaceClass": 3, "bInterfaceSubClass": 1}
    assert match(nub, table) == (True, 50000)
    assert match(nub, {**table, "IOProbeScore": 5000}) == (True, 55000)
    assert match(nub, {**table, "IOProbeScore": 20000}) == (True, 59000)
    assert match(nub, {**table, "IOProbeScore": "high"}) == (True, 50000)


@pytest.mark.parametrize(("table", "score"), [
    ({"idVendor": 1452, "idProduct": 0x8509, "bcdDevice": 0x0516}, 100000),
    ({"idVendor": 1452, "idProduct": 0x8509, "bcdDevice": 0x0516, "bDeviceClass": 239}, 100000),
    ({"idVendor": 1452, "idProduct": 0x8509}, 90000),
    ({"bDeviceClass": 239, "bDeviceSubClass": 2, "bDeviceProtocol": 1}, 60000),
    ({"bDeviceClass": 239, "bDeviceSubClass": 2}, 50000),
    ({"idVendor": 1452, "idProduct": "*"}, 89000),
    ({"idVendor": "*", "idProduct": "*"}, 88000),
    ({"idVendor": 1452, "idProductArray": [1, 0x8509]}, 90000),
    ({"idVendor": 1452, "idProduct": 0x8500, "idProductMask": 0xFF00}, 89500),
    ({"idVendor": 1452, "idProductArray": [0x8400, 0x8501], "idProductMask": 0xFF00}, 89500),
])
def test_device_ladder_rows(table: dict[str, Any], score: int) -> None:
    assert match(usb_nub("IOUSBDevice", DEVICE), table) == (True, score)


@pytest.mark.parametrize("table", [
    {"idVendor": 1452},  # no valid combination
    {"idVendor": 1452, "idProduct": 0x8509, "bcdDevice": 1},  # release given and wrong
    {"idVendor": 1452, "idProduct": 0x8509, "bDeviceClass": 9},  # optional key wrong
    {"idVendor": 1452, "idProduct": 0x1111},
    {"bDeviceClass": 239, "bDeviceSubClass": 2, "idVendor": 1452},  # vendor must be absent
    {"bDeviceClass": 239},
])
def test_device_ladder_refusals(table: dict[str, Any]) -> None:
    assert match(usb_nub("IOUSBHostDevice", DEVICE), table) == (False, 0)


def test_vendor_specific_rows_need_class_ff_on_the_nub() -> None:
    vendor_specific = usb_nub("IOUSBDevice", DEVICE, bDeviceClass=0xFF)
    table = {"idVendor": 1452, "bDeviceSubClass": 2, "bDeviceProtocol": 1}
    assert match(vendor_specific, table) == (True, 80000)
    assert match(vendor_specific, {"idVendor": 1452, "bDeviceSubClass": 2}) == (True, 70000)
    assert match(usb_nub("IOUSBDevice", DEVICE), table)[0] is False
    # class-only rows refuse vendor-specific nubs
    assert match(vendor_specific, {"bDeviceClass": 255, "bDeviceSubClass": 2})[0] is False


def test_interface_rows_below_90000_need_config_and_number_absent() -> None:
    nub = usb_nub("IOUSBInterface", INTERFACE)
    table = {"bInterfaceClass": 3, "bInterfaceSubClass": 1, "bInterfaceProtocol": 2}
    assert match(nub, table) == (True, 60000)
    assert match(nub, {**table, "bInterfaceNumber": 0})[0] is False
    full = {"idVendor": 1452, "idProduct": 0x8509, "bcdDevice": 0x0516,
            "bConfigurationValue": 1, "bInterfaceNumber": 0}
    assert match(nub, full) == (True, 100000)


def test_usb_score_reports_wildcards_and_mask() -> None:
    result = usb_score(usb_nub("IOUSBDevice", DEVICE),
                       {"idVendor": "*", "idProduct": 0x8500, "idProductMask": 0xFF00},
                       interface=False)
    assert (result.base, result.wildcards, result.used_mask, result.score) == (90000, 1, True, 88500)


def reason_of(nub: IORegistryEntry, table: dict[str, Any], *, interface: bool) -> tuple[str, str]:
    failure = usb_failure(nub, table, interface=interface)
    assert failure is not None
    key, why = failure
    return key, why()


def test_a_refusal_names_the_key_and_both_values() -> None:
    nub = usb_nub("IOUSBHostDevice", DEVICE)
    assert reason_of(nub, {"idVendor": 1133, "idProduct": 0x8509}, interface=False) == (
        "idVendor", "wants 1133, the device has 1452")
    assert reason_of(nub, {"idVendor": 1452, "idProduct": 0x1234}, interface=False) == (
        "idProduct", f"wants {0x1234}, the device has {0x8509}")


def test_a_refusal_says_when_the_device_has_no_such_property() -> None:
    nub = usb_nub("IOUSBHostDevice", {"idVendor": 1452})
    assert reason_of(nub, {"idVendor": 1452, "idProduct": 5}, interface=False) == (
        "idProduct", "wants 5, the device has none")


def test_an_id_product_array_refusal_shows_the_array_and_the_product() -> None:
    nub = usb_nub("IOUSBHostDevice", DEVICE)
    key, why = reason_of(nub, {"idVendor": 1452, "idProductArray": [1, 2]}, interface=False)
    assert key == "idProductArray"
    assert why == f"wants [1, 2], the device has {0x8509}"


def test_a_combination_no_row_takes_names_the_key_the_nearest_row_needs() -> None:
    nub = usb_nub("IOUSBHostInterface", INTERFACE)
    key, why = reason_of(nub, {"idVendor": 1452, "idProduct": 0x8509}, interface=True)
    assert key == "bConfigurationValue"
    assert "idVendor, idProduct" in why and "needs bConfigurationValue" in why


# -- the ladder against its documented table -----------------------------------------------------
def _documented_row(nub: IORegistryEntry, table: dict[str, Any], interface: bool
                    ) -> tuple[int, int] | None:
    """(base, wildcards) of the first row of the module doc's table that ``table`` takes,
    read literally (product masks and arrays left out: the strategy below has none)."""
    klass_keys = (("bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol") if interface
                  else ("bDeviceClass", "bDeviceSubClass", "bDeviceProtocol"))
    vendor, product, release = "idVendor", "idProduct", "bcdDevice"
    klass, sub, proto = klass_keys
    def ok(key: str) -> bool:
        return key in table and (table[key] == "*" or nub.get_property(key) == table[key])

    def optional(*names: str) -> bool:
        return all(ok(k) or k not in table for k in names)

    def absent(*names: str) -> bool:
        return not any(k in table for k in names)

    address = ("bConfigurationValue", "bInterfaceNumber") if interface else ()
    addressed, unaddressed = all(ok(k) for k in address), absent(*address)
    special = nub.get_property(klass) == 0xFF
    # A "*" on the address keys counts on the two top rows for device personalities too.
    counted = ("bConfigurationValue", "bInterfaceNumber")
    rows = [
        (100000, ok(vendor) and ok(product) and ok(release) and addressed
         and optional(klass, sub, proto), (vendor, product, release, *counted, klass, sub, proto)),
        (90000, ok(vendor) and ok(product) and addressed and optional(release, klass, sub, proto),
         (vendor, product, release, *counted, klass, sub, proto)),
        (80000, ok(vendor) and ok(sub) and ok(proto) and optional(klass)
         and absent(product, release) and unaddressed and special, (vendor, klass, sub, proto)),
        (70000, ok(vendor) and ok(sub) and optional(klass) and absent(proto, product, release)
         and unaddressed and special, (vendor, klass, sub)),
        (60000, ok(klass) and ok(sub) and ok(proto) and absent(vendor, product, release)
         and unaddressed and not special, (klass, sub, proto)),
        (50000, ok(klass) and ok(sub) and absent(proto, vendor, product, release)
         and unaddressed and not special, (klass, sub)),
    ]
    for base, applies, names in rows:
        if applies:
            return base, sum(1 for k in names if table.get(k) == "*")
    return None


_USB_FIELDS = ("idVendor", "idProduct", "bcdDevice", "bConfigurationValue", "bInterfaceNumber",
               "bDeviceClass", "bDeviceSubClass", "bDeviceProtocol", "bInterfaceClass",
               "bInterfaceSubClass", "bInterfaceProtocol")


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(_USB_FIELDS), st.sampled_from([0, 1, 2, 0xFF]),
                       min_size=len(_USB_FIELDS), max_size=len(_USB_FIELDS)),
       st.dictionaries(st.sampled_from(_USB_FIELDS), st.sampled_from([0, 1, 2, 0xFF, "*"]),
                       max_size=6),
       st.booleans())
def test_the_ladder_takes_the_first_documented_row_and_explains_every_refusal(
        props: dict[str, int], table: dict[str, Any], interface: bool) -> None:
    nub = usb_nub("IOUSBHostInterface" if interface else "IOUSBHostDevice", props)
    result = usb_score(nub, table, interface=interface)
    row = _documented_row(nub, table, interface)
    assert (result.base, result.wildcards) == (row if row is not None else (0, 0))
    assert result.matched == (row is not None)
    assert (usb_failure(nub, table, interface=interface) is None) == result.matched
    assert match(nub, table) == ((True, result.score) if result.matched else (False, 0))
