"""Reading Info.plists: validation, placeholders, arch overrides, fix-ups, the real corpus."""

from __future__ import annotations

import datetime
import plistlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iokit_host.errors import Severity
from iokit_host.kext.manifest import MAX_MANIFEST_BYTES, parse_info, read_manifest


def _write(tmp_path: Path, info: Any, name: str = "Info.plist") -> Path:
    path = tmp_path / name
    path.write_bytes(plistlib.dumps(info))
    return path


def _refs(found: list[Any]) -> list[str]:
    return [d.reference for d in found]


BASE = {"CFBundleIdentifier": "com.example.driver", "CFBundleVersion": "1.2.3",
        "OSBundleLibraries": {"com.apple.kpi.iokit": "9.0"}}


def test_every_corpus_plist_is_parsed_or_refused(corpus: Path) -> None:
    files = sorted((corpus / "plists").iterdir()) + sorted((corpus / "dext").iterdir())
    assert len(files) >= 50
    outcomes = {}
    for file in files:
        bundle, found = read_manifest(file)
        assert bundle is not None or any(d.severity is Severity.ERROR for d in found), file
        outcomes[file.name] = bundle
    assert sum(b is not None for b in outcomes.values()) >= 10


def test_corpus_placeholders_substituted_with_defines(corpus: Path) -> None:
    lilu = corpus / "plists" / "acidanthera__Lilu__Lilu_Info.plist"
    bundle, found = read_manifest(lilu)
    assert bundle is None and "manifest-build-placeholder" in _refs(found)
    bundle, _ = read_manifest(lilu, defines={"PRODUCT_BUNDLE_IDENTIFIER": "as.vit9696.Lilu",
                                             "MODULE_VERSION": "1.6.7", "PRODUCT_NAME": "Lilu"})
    assert bundle is not None and bundle.bundle_id == "as.vit9696.Lilu"
    assert bundle.version_value and bundle.compatible_version == "1.2.0"
    assert bundle.personalities["as.vit9696.Lilu"]["IOClass"] == "Lilu"


def test_rfc1034identifier_modifier(corpus: Path) -> None:
    rtl = corpus / "plists" / "Mieze__RTL8111_driver_for_OS_X__RealtekRTL8111_Info.plist"
    bundle, _ = read_manifest(rtl, defines={"PRODUCT_NAME": "Realtek RTL8111",
                                            "MODULE_VERSION": "2.4.2"})
    assert bundle is not None and bundle.bundle_id == "com.insanelymac.Realtek-RTL8111"


def test_bare_macro_version_reported(corpus: Path) -> None:
    hub = next((corpus / "plists").glob("*AppleUSBHub*"))
    bundle, found = read_manifest(hub)
    assert bundle is None
    assert any(d.key == "CFBundleVersion" and "APPLEUSBHUB_VERSION" in d.message for d in found)
    bundle, _ = read_manifest(hub, defines={"APPLEUSBHUB_VERSION": "5.0.0"})
    assert bundle is not None and bundle.version == "5.0.0"


def test_arch_override_for_os_and_io_keys_only(tmp_path: Path) -> None:
    info = {**BASE, "OSBundleLibraries_x86_64": {"com.apple.kpi.bsd": "8.0"},
            "CFBundleVersion_x86_64": "9.9",
            "IOKitPersonalities_arm64": {"P": {"IOProviderClass": "IOService"}}}
    bundle, _ = read_manifest(_write(tmp_path, info), arch="x86_64")
    assert bundle is not None
    assert dict(bundle.libraries) == {"com.apple.kpi.bsd": "8.0"}
    assert bundle.version == "1.2.3"  # CFBundle* keys are never arch-specific
    assert dict(bundle.personalities) == {}
    arm, _ = read_manifest(_write(tmp_path, info), arch="arm64")
    assert arm is not None and list(arm.personalities) == ["P"]
    assert dict(arm.libraries) == {"com.apple.kpi.iokit": "9.0"}


def test_kext_folder_layout(tmp_path: Path) -> None:
    contents = tmp_path / "Foo.kext" / "Contents"
    contents.mkdir(parents=True)
    _write(contents, BASE)
    bundle, found = read_manifest(tmp_path / "Foo.kext")
    assert bundle is not None and found == []
    assert bundle.source == str(contents / "Info.plist")


@pytest.mark.parametrize(("change", "reference"), [
    ({"CFBundleIdentifier": None}, "manifest-missing-bundle-identifier"),
    ({"CFBundleIdentifier": 7}, "manifest-bad-bundle-identifier"),
    ({"CFBundleIdentifier": "c" * 64}, "manifest-bad-bundle-identifier"),
    # KMOD_MAX_NAME counts bytes (OSString::getLength): 41 characters, 73 bytes
    ({"CFBundleIdentifier": "com.acme." + "\u0434" * 32}, "manifest-bad-bundle-identifier"),
    ({"CFBundleVersion": "\uff11.\uff10"}, "manifest-bad-version"),  # not ASCII digits
    ({"CFBundleVersion": None}, "manifest-missing-version"),
    ({"CFBundleVersion": "1.0fc0"}, "manifest-bad-version"),
    ({"OSBundleCompatibleVersion": "2.0"}, "manifest-compatible-version-too-new"),
    ({"OSBundleCompatibleVersion": "x"}, "manifest-bad-version"),
    ({"CFBundleVersion": 5}, "manifest-bad-version"),
    ({"CFBundleIdentifier": ["com.example.driver"]}, "manifest-bad-bundle-identifier"),
    ({"OSBundleLibraries": ["com.apple.kpi.iokit"], "CFBundleExecutable": "x"},
     "manifest-bad-libraries"),
    ({"OSBundleLibraries": {"com.apple.kpi.iokit": 9}, "CFBundleExecutable": "x"},
     "manifest-bad-library-version"),
])
def test_refusals(tmp_path: Path, change: dict[str, Any], reference: str) -> None:
    info = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    bundle, found = read_manifest(_write(tmp_path, info))
    assert bundle is None
    assert reference in _refs(found)
    assert all(d.file and d.hint for d in found)


@pytest.mark.parametrize(("change", "reference", "key"), [
    ({"IOKitPersonalities": {"P": {"IOProviderClass": "IOService", "IOProbeScore": "1000"}}},
     "personality-ill-typed-number", "IOKitPersonalities.P.IOProbeScore"),
    ({"IOKitPersonalities": {"P": {"IOProviderClass": "IOPCIDevice",
                                   "IOPCITunnelCompatible": "YES"}}},
     "personality-ill-typed-boolean", "IOKitPersonalities.P.IOPCITunnelCompatible"),
    ({"IOKitPersonalities": ["P"]}, "manifest-bad-personalities", "IOKitPersonalities"),
    ({"IOKitPersonalities": {"P": "x"}}, "personality-not-a-dictionary", "IOKitPersonalities.P"),
    ({"IOKitPersonalities": {"P": {"IOClass": "X"}}}, "personality-missing-provider-class",
     "IOKitPersonalities.P.IOProviderClass"),
    ({"OSBundleIsInterface": "YES"}, "manifest-ill-typed-boolean", "OSBundleIsInterface"),
    ({"OSBundleRequired": "Sometimes"}, "manifest-bad-bundle-required", "OSBundleRequired"),
    ({"OSBundleRequired": ["Root"]}, "manifest-bad-bundle-required", "OSBundleRequired"),
    ({"OSBundleRequired_x86_64": {"a": 1}}, "manifest-bad-bundle-required",
     "OSBundleRequired_x86_64"),
    ({"OSBundleCompatibleVersion": ["1.0"]}, "manifest-ill-typed-key",
     "OSBundleCompatibleVersion"),
    ({"CFBundleExecutable": {"x": 1}}, "manifest-ill-typed-key", "CFBundleExecutable"),
    ({"CFBundleName": 5}, "manifest-ill-typed-key", "CFBundleName"),
    ({"OSBundleDebugLevel": "high"}, "manifest-ill-typed-key", "OSBundleDebugLevel"),
    ({"OSKernelResource_x86_64": 1}, "manifest-ill-typed-boolean", "OSKernelResource_x86_64"),
    ({"BuildDate": datetime.datetime(2020, 1, 1)}, "manifest-unsupported-value", "BuildDate"),
    ({"Tuning": {"gain": [0.5]}}, "manifest-unsupported-value", "Tuning"),
    ({"OSBundleLibraries": ["com.apple.kpi.iokit"]}, "manifest-bad-libraries",
     "OSBundleLibraries"),
    ({"OSBundleLibraries": {"com.apple.kpi.iokit": 9.0}}, "manifest-bad-library-version",
     "OSBundleLibraries.com.apple.kpi.iokit"),
])
def test_warnings_keep_the_kext(tmp_path: Path, change: dict[str, Any], reference: str,
                                key: str) -> None:
    bundle, found = read_manifest(_write(tmp_path, {**BASE, **change}), arch="x86_64")
    assert bundle is not None
    assert [(d.reference, d.key) for d in found] == [(reference, key)]
    assert bundle.diagnostics == tuple(found)
    assert all(d.file and d.hint and d.subject == "com.example.driver" for d in found)


@pytest.mark.parametrize(("change", "expected", "got"), [
    ({"OSBundleRequired": ["Root"]}, "a string", "an array"),
    ({"OSBundleCompatibleVersion": 1}, "a string", "an integer (1)"),
    ({"OSBundleIsInterface": "YES"}, "a boolean", "a string ('YES')"),
    ({"CFBundleVersion": 5}, "a version string", "an integer (5)"),
    ({"CFBundleIdentifier": {}}, "a non-empty string", "a dictionary"),
    ({"OSBundleLibraries": "com.apple.kpi.iokit"}, "a dictionary", "a string"),
    ({"IOKitPersonalities": [1]}, "a dictionary", "an array"),
])
def test_wrong_types_say_what_was_expected_and_got(tmp_path: Path, change: dict[str, Any],
                                                   expected: str, got: str) -> None:
    _, found = read_manifest(_write(tmp_path, {**BASE, **change}))
    [diagnostic] = found
    assert diagnostic.key == next(iter(change)) and diagnostic.file
    assert f"expected {expected}" in diagnostic.message and got in diagnostic.message


def test_a_bad_optional_key_costs_only_itself(tmp_path: Path) -> None:
    info = {**BASE, "OSBundleCompatibleVersion": ["1.0"], "OSBundleRequired": ["Root"],
            "CFBundleExecutable": ["x"], "IOKitPersonalities": {
                "P": {"IOProviderClass": "IOService", "IOClass": "A"}}}
    bundle, found = read_manifest(_write(tmp_path, info))
    assert bundle is not None and not bundle.errors
    assert not bundle.is_library and bundle.required is None and not bundle.has_executable
    assert list(bundle.personalities) == ["P"]
    assert {"OSBundleCompatibleVersion", "CFBundleExecutable"}.isdisjoint(bundle.info)
    assert len(found) == 3


def test_non_string_top_level_keys_are_dropped() -> None:
    bundle, found = parse_info({**BASE, 5: "x", b"k": 1.5}, source="Info.plist")
    assert bundle is not None and set(bundle.info) == set(BASE)
    assert [(d.reference, d.key) for d in found] == [("manifest-unsupported-value", "5"),
                                                      ("manifest-unsupported-value", "b'k'")]
    bundle, found = parse_info({**BASE, "OSBundleLibraries": {7: "1.0"},
                                "CFBundleExecutable": "x"})
    assert bundle is None and [d.reference for d in found] == ["manifest-bad-library-version"]


def test_string_boolean_is_false(tmp_path: Path) -> None:
    bundle, _ = read_manifest(_write(tmp_path, {**BASE, "OSBundleIsInterface": "YES"}))
    assert bundle is not None and bundle.is_interface is False


def test_personality_fix_ups(tmp_path: Path) -> None:
    info = {**BASE, "IOKitPersonalities": {
        "Own": {"IOProviderClass": "IOPCIDevice", "IOClass": "Driver"},
        "Other": {"IOProviderClass": "IOUSBHostDevice", "IOClass": "AppleUSBHostMergeProperties",
                  "CFBundleIdentifier": "com.apple.driver.AppleUSBHostMergeProperties"}}}
    bundle, _ = read_manifest(_write(tmp_path, info))
    assert bundle is not None
    own, other = bundle.personalities["Own"], bundle.personalities["Other"]
    assert own["CFBundleIdentifier"] == "com.example.driver"
    assert own["CFBundleIdentifierKernel"] == "com.example.driver"
    assert "IOPersonalityPublisher" not in own
    assert other["IOPersonalityPublisher"] == "com.example.driver"
    assert other["CFBundleIdentifierKernel"] == "com.apple.driver.AppleUSBHostMergeProperties"


def test_unreadable_and_missing(tmp_path: Path) -> None:
    garbage = tmp_path / "Info.plist"
    garbage.write_bytes(b"<plist><dict><key>x</key>")
    assert _refs(read_manifest(garbage)[1]) == ["manifest-unreadable"]
    assert _refs(read_manifest(tmp_path / "nope.plist")[1]) == ["manifest-not-found"]
    # Path.is_dir raised ENAMETOOLONG: one `--kext <long name>` stopped the whole boot.
    for name in ("k" * 300, "/".join(["k" * 200] * 30)):
        assert _refs(read_manifest(tmp_path / name)[1]) == ["manifest-not-found"]
    assert _refs(read_manifest(_write(tmp_path, [1, 2], "a.plist"))[1]) == [
        "manifest-not-a-dictionary"]


def test_a_manifest_past_the_size_limit_is_too_large_not_missing(tmp_path: Path) -> None:
    huge = tmp_path / "Info.plist"
    with huge.open("wb") as file:  # sparse: no disk is used
        file.truncate(MAX_MANIFEST_BYTES + 1)
    found = read_manifest(huge)[1]
    assert _refs(found) == ["manifest-too-large"] and str(MAX_MANIFEST_BYTES) in found[0].message


def test_a_value_that_cannot_be_read_is_dropped_and_named(tmp_path: Path) -> None:
    """Its key alone is lost, with a warning naming it and why; nothing of it is kept in the
    info that a kernel collection stores."""
    plist = tmp_path / "Info.plist"
    plist.write_bytes(plistlib.dumps({**BASE, "Stamp": 1}).replace(
        b"<integer>1</integer>", b"<date>soon</date>"))
    bundle, found = read_manifest(plist)
    assert bundle is not None and "Stamp" not in bundle.info
    (warning,) = [d for d in found if d.key == "Stamp"]
    assert warning.reference == "manifest-unsupported-value"
    assert "<date>soon</date> is not a valid date" in warning.message


def test_dext_has_no_kernel_executable(corpus: Path) -> None:
    dext = next((corpus / "dext").glob("DanBurkhardt*"))
    bundle, _ = read_manifest(dext, defines={"PRODUCT_BUNDLE_IDENTIFIER": "com.example.Null",
                                             "EXECUTABLE_NAME": "NullDriver",
                                             "PRODUCT_NAME": "NullDriver"})
    assert bundle is not None and bundle.is_dext and not bundle.has_executable


_plist_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.text(max_size=12)
    | st.binary(max_size=8) | st.floats(allow_nan=False),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3), max_leaves=10)
_keys = st.sampled_from(["CFBundleIdentifier", "CFBundleVersion", "OSBundleCompatibleVersion",
                         "OSBundleLibraries", "IOKitPersonalities", "OSBundleRequired",
                         "OSBundleIsInterface", "OSKernelResource", "CFBundleExecutable",
                         "OSBundleLibraries_x86_64", "$(X)"])


@given(st.dictionaries(_keys, _plist_values | st.text(max_size=20), max_size=8))
def test_fuzz_info_dictionaries(info: dict[str, Any]) -> None:
    bundle, found = parse_info({k: v for k, v in info.items() if v is not None},
                               defines={"X": "1.0"})
    assert bundle is not None or found


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(st.binary(max_size=200))
def test_fuzz_plist_bytes(tmp_path: Path, data: bytes) -> None:
    file = tmp_path / "fuzz.plist"
    file.write_bytes(b"bplist00" + data if data[:1] == b"\0" else data)
    bundle, found = read_manifest(file)
    assert bundle is not None or found


def test_fast_plist_reader_matches_plistlib(corpus: Path) -> None:
    from iokit_host.kext import plistxml

    for file in [*(corpus / "plists").iterdir(), *(corpus / "dext").iterdir()]:
        data = file.read_bytes()
        assert plistxml.loads(data) == plistlib.loads(data), file.name
    odd = plistlib.dumps({"d": b"\x00\x01", "i": -5, "r": 1.5, "a": [True, False, "x"]})
    assert plistxml.loads(odd) == plistlib.loads(odd)
    binary = plistlib.dumps({"k": 1}, fmt=plistlib.FMT_BINARY)
    assert plistxml.loads(binary) == {"k": 1}
