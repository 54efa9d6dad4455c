"""Personalities read from a manifest: what an ill-typed key costs, and what a boot then does."""

from __future__ import annotations

import datetime as dt
import plistlib
from pathlib import Path
from typing import Any

import pytest
from hostkit import make_host, wifi_nub
from iokit_sdk import IOService

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kext.bundle import KextBundle
from iokit_host.kext.info_keys import check_optional_keys
from iokit_host.kext.manifest import parse_info
from iokit_host.kext.personalities import fix_up_personalities

ID = "com.example.driver"
GOOD = {"IOProviderClass": "IOPCIDevice", "IOClass": "Driver"}


def _read(personality: dict[Any, Any]) -> tuple[KextBundle, list[Diagnostic]]:
    bundle, found = parse_info({"CFBundleIdentifier": ID, "CFBundleVersion": "1.0",
                                "IOKitPersonalities": {"P": personality, "Other": GOOD}},
                               source="Info.plist")
    assert bundle is not None
    assert all(d.severity is Severity.WARNING and d.file == "Info.plist" and d.subject == ID
               for d in found)
    return bundle, found


@pytest.mark.parametrize(("change", "key"), [
    ({"IOProviderClass": ["IOPCIDevice"]}, "IOProviderClass"),
    ({"IOClass": {"name": "Driver"}}, "IOClass"),
    ({"IOClass": 7}, "IOClass"),
])
def test_a_personality_without_string_class_names_is_refused_alone(
        change: dict[str, Any], key: str) -> None:
    bundle, found = _read({**GOOD, **change})
    assert list(bundle.personalities) == ["Other"]
    assert [(d.reference, d.key) for d in found] == [
        ("personality-ill-typed-class", f"IOKitPersonalities.P.{key}")]
    assert found[0].context["expected"] == "a string"


@pytest.mark.parametrize(("key", "value", "reference"), [
    ("IOProbeScore", "1000", "personality-ill-typed-number"),
    ("IOProbeScore", {}, "personality-ill-typed-number"),
    ("IOKitDebug", "x", "personality-ill-typed-number"),
    ("IOMatchCategory", {"a": 1}, "personality-ill-typed-string"),
    ("IOUserClientClass", ["UC"], "personality-ill-typed-string"),
    ("IOUserServerName", 5, "personality-ill-typed-string"),
    ("IOMatchDefer", "YES", "personality-ill-typed-boolean"),
    ("IOPCITunnelCompatible", 1, "personality-ill-typed-boolean"),
    ("IOProviderMergeProperties", ["x"], "personality-ill-typed-dictionary"),
    ("CFBundleIdentifierKernel", ["x"], "personality-ill-typed-string"),
])
def test_an_ill_typed_kernel_key_is_dropped(key: str, value: Any, reference: str) -> None:
    bundle, found = _read({**GOOD, key: value})
    assert key not in bundle.personalities["P"] or key == "CFBundleIdentifierKernel"
    assert [(d.reference, d.key) for d in found] == [(reference, f"IOKitPersonalities.P.{key}")]
    assert "expected" in found[0].message and found[0].context["got"] in found[0].message


def test_an_ill_typed_bundle_identifier_becomes_the_kexts() -> None:
    bundle, found = _read({**GOOD, "CFBundleIdentifier": ["x"]})
    table = bundle.personalities["P"]
    assert table["CFBundleIdentifier"] == table["CFBundleIdentifierKernel"] == ID
    assert "IOPersonalityPublisher" not in table
    assert [d.reference for d in found] == ["personality-ill-typed-string"]


def test_malformed_match_keys_are_kept_and_warned_at_read_time() -> None:
    bundle, found = _read({**GOOD, "IOPCIMatch": "0xZZZZ14e4", "IONameMatch": {"a": 1}})
    assert bundle.personalities["P"]["IOPCIMatch"] == "0xZZZZ14e4"  # never matches, as in IOKit
    assert [(d.reference, d.key) for d in found] == [
        ("match-key-malformed", "IOKitPersonalities.P.IOPCIMatch"),
        ("match-key-ill-typed", "IOKitPersonalities.P.IONameMatch")]


@pytest.mark.parametrize("value", [1.5, dt.datetime(2020, 1, 1)])
def test_real_and_date_values(value: object) -> None:
    bundle, found = _read({**GOOD, "IOPCIMatch": value})
    assert "P" not in bundle.personalities
    assert [(d.reference, d.key) for d in found] == [
        ("personality-unsupported-value", "IOKitPersonalities.P.IOPCIMatch")]
    bundle, found = _read({**GOOD, "Timeouts": {"boot": [1, value]}})
    assert "Timeouts" not in bundle.personalities["P"]
    assert [(d.reference, d.key) for d in found] == [
        ("personality-unsupported-value", "IOKitPersonalities.P.Timeouts.boot[1]")]


def test_non_string_keys_are_dropped() -> None:
    bundle, found = _read({**GOOD, 5: "x", "IOPropertyMatch": {7: 1}})
    assert "P" not in bundle.personalities  # the match table could never be held
    assert [d.reference for d in found] == ["personality-unsupported-value"] * 2


def test_a_nul_in_a_name_or_key_costs_what_holds_it() -> None:
    # Class names and keys are C strings: a binary plist's "Dri\0ver" was synthesised as a
    # class and the boot ended in an internal error (the SDK refuses such a class name).
    bundle, found = _read({**GOOD, "IOClass": "Dri\0ver"})
    assert list(bundle.personalities) == ["Other"]
    assert [d.reference for d in found] == ["personality-ill-typed-class"]
    bundle, found = _read({**GOOD, "IOUserClientClass": "U\0C", "k\0": 1, "Extra": {"a\0": 1}})
    assert set(bundle.personalities["P"]) >= set(GOOD)
    assert not {"IOUserClientClass", "k\0", "Extra"} & set(bundle.personalities["P"])
    assert sorted(d.reference for d in found) == ["personality-ill-typed-string",
                                                  "personality-unsupported-value",
                                                  "personality-unsupported-value"]
    bundle, found = _read({**GOOD, "IOPropertyMatch": {"a\0": 1}})
    assert "P" not in bundle.personalities  # the match table could never be held
    assert [d.key for d in found] == ["IOKitPersonalities.P.IOPropertyMatch"]


class Driver(IOService):
    pass


def _boot(personality: dict[str, Any], **nub_props: Any) -> tuple[Any, list[Diagnostic]]:
    bundle, found = parse_info({"CFBundleIdentifier": ID, "CFBundleVersion": "1.0",
                                "IOKitPersonalities": {"P": personality}})
    assert bundle is not None
    host = make_host([wifi_nub(**nub_props)], [bundle], {ID: [Driver]}).boot()
    return host, found


def test_a_real_in_a_driver_property_is_not_an_init_failure() -> None:
    host, found = _boot({**GOOD, "IOPCIMatch": "0x433114e4", "Timeout": 1.5,
                         "IOProbeScore": 9000, "IOKitDebug": "x"})
    assert [d.reference for d in found] == ["personality-unsupported-value",
                                            "personality-ill-typed-number"]
    [driver] = [d for d in host.drivers_of("pci14e4,4331") if type(d) is Driver]
    assert not driver.has_property("Timeout") and not driver.has_property("IOKitDebug")
    assert not [d for d in host.diagnostics if d.severity is Severity.ERROR]


def test_a_real_in_one_of_several_property_tables_is_not_an_init_failure() -> None:
    host, found = _boot({**GOOD, "IOPropertyMatch": [{"model": "x"}, {"speed": 2.5}]},
                        model="x")
    assert [d.reference for d in found] == ["personality-unsupported-value"]
    assert not [d for d in host.drivers_of("pci14e4,4331") if type(d) is Driver]
    assert not [d for d in host.diagnostics if d.severity is Severity.ERROR]


def test_real_plists_raise_only_the_known_ill_typed_keys(corpus: Path) -> None:
    """Every read-time type warning over the corpus; each one is a real mistake in the plist."""
    found = []
    for file in sorted([*(corpus / "plists").iterdir(), *(corpus / "dext").iterdir()]):
        info = plistlib.loads(file.read_bytes())
        for key in (k for k in info if k.startswith("IOKitPersonalities")):
            found += fix_up_personalities(info[key], "com.corpus", file=file.name, key=key)[1]
        found += check_optional_keys(info, arch="x86_64", file=file.name)[1]
    driver = "apple-oss-distributions__IOHIDFamily__IOHIDFamily_Info-IOHIDEventDriver.plist"
    # IOHIDEventDriver writes IOMatchDefer as the string "YES": IOKit's OSDynamicCast to
    # OSBoolean fails, so those personalities are never deferred.
    assert [(d.file, d.reference, d.key) for d in found] == [
        (driver, "personality-ill-typed-boolean",
         "IOKitPersonalities.HID Fast Path.IOMatchDefer"),
        (driver, "personality-ill-typed-boolean",
         "IOKitPersonalities.BLE Trackable Accessory.IOMatchDefer")]
