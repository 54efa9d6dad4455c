"""Manifests under fuzzing: whatever a plist holds, reading it yields a bundle and/or our own
diagnostics, never another exception; and what reaches the kernel is what the kernel can hold.

Inputs: random info dictionaries over the keys the host reads (right keys, wrong types),
mutations of one valid manifest, random nesting, random bytes, and XML and binary plists
(whole or damaged). A bundle that comes out is then resolved, listed as kextstat lists it,
catalogued and booted on a machine with PCI and USB nubs: none of that may raise either, and no
failure may be blamed on the driver at ``init``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import plistlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from hostkit import make_host, wifi_nub
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iokit_sdk import IOService

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kext.bundle import KextBundle
from iokit_host.kext.loaded import loaded_kexts
from iokit_host.kext.manifest import parse_info, read_manifest
from iokit_host.kext.match_key_types import MATCH_KEYS
from iokit_host.kext.plist_types import find_unsupported
from iokit_host.kext.resolver import resolve
from iokit_host.machine.model import NubSpec
from iokit_host.matching.catalogue import IOCatalogue

REFERENCE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")
ID = "com.example.fuzz"
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

#: Text a plist file can hold (XML has no control characters, neither format surrogates).
_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=10)
_scalars = (_text | st.integers(-2**63, 2**64 - 1) | st.booleans()
            | st.binary(max_size=6) | st.floats()
            | st.datetimes(min_value=dt.datetime(1901, 1, 1), max_value=dt.datetime(2100, 1, 1)))
#: Values any plist format can hold (XML cannot hold UIDs).
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(_text, inner, max_size=4), max_leaves=16)
#: Values only a binary plist, or a caller's dictionary, can hold: UIDs and non-string keys.
_odd_values = st.recursive(
    _scalars | st.builds(plistlib.UID, st.integers(0, 2**32)),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6) | st.integers() | st.binary(max_size=3), inner,
                      max_size=3), max_leaves=12)

TOP_KEYS = ["CFBundleIdentifier", "CFBundleVersion", "OSBundleCompatibleVersion",
            "OSBundleLibraries", "OSBundleLibraries_x86_64", "OSBundleRequired",
            "OSBundleRequired_x86_64", "IOKitPersonalities", "IOKitPersonalities_x86_64",
            "CFBundleExecutable", "CFBundlePackageType", "CFBundleName", "OSBundleIsInterface",
            "OSKernelResource", "OSBundleAllowUserLoad", "OSBundleDebugLevel", "Custom", "$(X)"]
PERSONALITY_KEYS = sorted({
    *MATCH_KEYS, "IOProviderClass", "IOClass", "IOProbeScore", "IOMatchCategory",
    "IOUserClientClass", "IOKitDebug", "IOMatchDefer", "IOPCITunnelCompatible",
    "CFBundleIdentifier", "CFBundleIdentifierKernel", "IOPersonalityPublisher",
    "IOProviderMergeProperties", "IOProviderParentUSBNubMergeProperties", "IOUserServerName",
    "IOUserClass", "IONameMatched", "DriverProperty"})

PCI = {"IOProviderClass": "IOPCIDevice", "IOClass": "Driver", "IOPCIMatch": "0x433114e4",
       "IONameMatch": ["pci14e4,4331"], "IOProbeScore": 5000,
       "IOPropertyMatch": [{"vendor-id": b"\xe4\x14\x00\x00"}], "DriverProperty": {"a": [1]}}
USB = {"IOProviderClass": "IOUSBHostDevice", "IOClass": "Driver", "idVendor": 1452,
       "idProduct": 0x8286, "bcdDevice": 1, "IOMatchCategory": "usb",
       "IOResourceMatch": "IOKit", "IOProviderMergeProperties": {"m": 1}}
VALID: dict[str, Any] = {
    "CFBundleIdentifier": ID, "CFBundleVersion": "1.2.3", "OSBundleCompatibleVersion": "1.0",
    "OSBundleLibraries": {"com.apple.kpi.iokit": "9.0"}, "OSBundleRequired": "Root",
    "CFBundleExecutable": "fuzz", "IOKitPersonalities": {"PCI": PCI, "USB": USB}}


class Driver(IOService):
    pass


def _machine() -> list[NubSpec]:
    usb = NubSpec("IOUSBHostDevice", name="Keyboard", location="1",
                  properties={"idVendor": 1452, "idProduct": 0x8286, "bcdDevice": 1})
    return [wifi_nub(), usb]


def _assert_ours(bundle: KextBundle | None, found: list[Diagnostic]) -> None:
    """Only our own diagnostics; a refusal says why; a bundle holds only kernel values."""
    assert all(isinstance(d, Diagnostic) and REFERENCE.match(d.reference) for d in found)
    assert all(d.message and d.hint for d in found)
    if bundle is None:
        assert any(d.severity is Severity.ERROR for d in found)
        return
    for name, personality in bundle.personalities.items():
        assert find_unsupported(dict(personality), name) is None
    resolution = resolve([bundle])
    loaded_kexts(resolution)
    IOCatalogue().add_bundle(bundle)
    # What the kernel collection stores: the raw info without its personalities, and the
    # fixed-up personalities (bytes and dates are tagged there; repr stands in for that).
    info = {k: v for k, v in bundle.info.items() if not k.startswith("IOKitPersonalities")}
    json.dumps({"info": info, "personalities": dict(bundle.personalities)}, default=repr)


def _boot(bundle: KextBundle | None) -> None:
    """Boot the bundle with its driver class: no failure is blamed on the driver's init."""
    if bundle is None:
        return
    host = make_host(_machine(), [bundle], {ID: [Driver]}).boot()
    assert not [d for d in host.diagnostics if d.reference == "driver-init-raised"]


@FUZZ
@given(st.dictionaries(st.sampled_from(TOP_KEYS), _values, max_size=10))
def test_right_keys_wrong_types(info: dict[str, Any]) -> None:
    bundle, found = parse_info(info, defines={"X": "1.0"}, source="Info.plist")
    _assert_ours(bundle, found)


@FUZZ
@given(st.data())
def test_mutations_of_a_valid_manifest(data: st.DataObject) -> None:
    info = copy.deepcopy(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        where = data.draw(st.sampled_from(["top", "PCI", "USB"]))
        value = data.draw(_values)
        if where == "top":
            info[data.draw(st.sampled_from(TOP_KEYS))] = value
        elif isinstance(info.get("IOKitPersonalities"), dict) and isinstance(
                info["IOKitPersonalities"].get(where), dict):
            info["IOKitPersonalities"][where][data.draw(st.sampled_from(PERSONALITY_KEYS))] = value
    bundle, found = parse_info(info, source="Info.plist")
    _assert_ours(bundle, found)
    _boot(bundle)


@FUZZ
@given(st.dictionaries(st.sampled_from(PERSONALITY_KEYS), _odd_values, max_size=8),
       st.dictionaries(st.text(max_size=6) | st.integers(), _odd_values, max_size=3))
def test_random_nesting_and_binary_only_values(personality: dict[Any, Any],
                                               extra: dict[Any, Any]) -> None:
    info = {**VALID, **extra, "IOKitPersonalities": {"P": {**PCI, **personality}}}
    bundle, found = parse_info(info, source="Info.plist")
    _assert_ours(bundle, found)
    _boot(bundle)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(tmp_path: Path, data: bytes) -> None:
    file = tmp_path / "Info.plist"
    file.write_bytes(b"bplist00" + data if data[:1] == b"\0" else data)
    _assert_ours(*read_manifest(file))


@FUZZ
@given(st.dictionaries(st.sampled_from(TOP_KEYS), _values, max_size=6),
       st.sampled_from([plistlib.FMT_XML, plistlib.FMT_BINARY]),
       st.one_of(st.none(), st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                 st.integers(0, 10_000)))
def test_xml_and_binary_plists_whole_or_damaged(
        tmp_path: Path, info: dict[str, Any], fmt: plistlib.PlistFormat,
        damage: None | int | tuple[int, int]) -> None:
    data = plistlib.dumps({**VALID, **info}, fmt=fmt)
    if isinstance(damage, tuple):  # one byte changed
        at = damage[0] % len(data)
        data = data[:at] + bytes([damage[1]]) + data[at + 1:]
    elif isinstance(damage, int):  # cut off
        data = data[:damage % len(data)]
    file = tmp_path / "Info.plist"
    file.write_bytes(data)
    _assert_ours(*read_manifest(file, arch="x86_64"))


NASTY: dict[str, Any] = {
    "required-array.plist": {**VALID, "OSBundleRequired": ["Root"]},
    "everything-ill-typed.plist": {
        **VALID, "CFBundleExecutable": ["x"], "OSBundleCompatibleVersion": {},
        "OSBundleLibraries": {"com.apple.kpi.iokit": 9.5}, "OSBundleIsInterface": "YES",
        "IOKitPersonalities": {
            "A": {**PCI, "IOPCIMatch": {"a": 1}, "IOProbeScore": 1.5, "IOMatchCategory": []},
            "B": {**PCI, "IOClass": {}, "IONameMatch": {"x": 1}},
            "C": {**USB, "idVendor": "0x05ac", "IOPropertyMatch": "x",
                  "When": dt.datetime(2020, 1, 1)},
            "D": "not a dictionary"}},
}


def _inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iokit_host", "kext", "inspect", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_inspect_in_a_subprocess_prints_diagnostics_not_tracebacks(tmp_path: Path) -> None:
    files = []
    for name, info in NASTY.items():
        files.append(tmp_path / name)
        files[-1].write_bytes(plistlib.dumps(info))
    files.append(tmp_path / "binary.plist")
    files[-1].write_bytes(plistlib.dumps(NASTY["everything-ill-typed.plist"],
                                         fmt=plistlib.FMT_BINARY)[:-7] + b"\xff" * 7)
    for file in files:
        for extra in ((), ("--json",)):
            result = _inspect(str(file), *extra)
            assert "Traceback" not in result.stdout + result.stderr, file.name
            assert result.returncode in (0, 1), (file.name, result.stderr)
    report = json.loads(_inspect(str(files[1]), "--json").stdout)
    keys = {d["key"] for d in report["diagnostics"]}
    assert {"IOKitPersonalities.A.IOPCIMatch", "IOKitPersonalities.B.IOClass",
            "IOKitPersonalities.C.idVendor", "IOKitPersonalities.C.When",
            "OSBundleLibraries.com.apple.kpi.iokit"} <= keys
