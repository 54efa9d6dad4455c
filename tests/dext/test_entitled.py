"""DriverKit's entitlement checks (IOKIT_SEMANTICS §8.3): a dext the checks refuse never runs,
says why (``dext-not-entitled``, ``not-entitled`` in explain) and the rest of the boot goes on;
a program opens a dext's user client only with the access the dext or the program holds."""

from __future__ import annotations

import plistlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from iokit_sdk.returns import IOReturnError
from iokit_sdk.service import IOService
from iokit_sdk.values import PropertyTypeError

from iokit_host.dext.entitled import (
    ALLOW_ANY_USERCLIENT,
    DRIVERKIT,
    PCI_TRANSPORT,
    USB_TRANSPORT,
    USERCLIENT_ACCESS,
    dext_refusal,
    user_client_refusal,
)
from iokit_host.dext.entitlements import DextEntitlements
from iokit_host.testing import explain_text, open_user_client

from .conftest import DEXT, DEXT_ID, camera, camera_driver, dexts

SIGNED: dict[str, Any] = {DRIVERKIT: True, USB_TRANSPORT: [{"idVendor": 1452}],
                          ALLOW_ANY_USERCLIENT: True}


def _dext(tmp_path: Path, entitlements: dict[str, Any] | bytes | None,
          **personality: Any) -> Path:
    """The test dext with other entitlements (None: no file) or personality keys."""
    kext = tmp_path / "iokit_test_dext"
    shutil.copytree(DEXT, kext)
    (kext / "Entitlements.plist").unlink()
    if isinstance(entitlements, bytes):
        (kext / "Entitlements.plist").write_bytes(entitlements)
    elif entitlements is not None:
        (kext / "Entitlements.plist").write_bytes(plistlib.dumps(entitlements))
    if personality:
        info = plistlib.loads((kext / "Info.plist").read_bytes())
        info["IOKitPersonalities"]["Camera"].update(personality)
        (kext / "Info.plist").write_bytes(plistlib.dumps(info))
    return kext


def _refused(host: Any) -> str:
    found = [d for d in host.diagnostics if d.reference == "dext-not-entitled"]
    assert len(found) == 1, [str(d) for d in host.diagnostics]
    assert camera_driver(host) is None
    assert dexts(host).rows() == [] or dexts(host).rows()[0].launches == 0
    text = explain_text(host, camera(host))
    assert "not-entitled" in text
    return found[0].message


def test_the_signed_test_dext_runs(dext_host):
    host = dext_host()
    assert camera_driver(host) is not None
    assert "dext-not-entitled" not in {d.reference for d in host.diagnostics}


def test_without_the_driverkit_entitlement_the_dext_never_runs(dext_host, tmp_path: Path):
    host = dext_host(_dext(tmp_path, {**SIGNED, DRIVERKIT: False}))
    assert "com.apple.developer.driverkit entitlement check failed" in _refused(host)
    assert host.find("IOUserResources") is not None  # the rest of the boot went on


def test_a_dext_with_code_and_no_entitlements_file_is_unsigned_and_refused(
        dext_host, tmp_path: Path):
    host = dext_host(_dext(tmp_path, None))
    assert "entitlement check failed" in _refused(host)


def test_without_the_usb_transport_the_provider_check_fails(dext_host, tmp_path: Path):
    entitlements = {k: v for k, v in SIGNED.items() if k != USB_TRANSPORT}
    message = _refused(dext_host(_dext(tmp_path, entitlements)))
    assert "provider entitlements check failed" in message and USB_TRANSPORT in message


def test_a_usb_transport_for_another_vendor_does_not_cover_the_device(dext_host,
                                                                     tmp_path: Path):
    host = dext_host(_dext(tmp_path, {**SIGNED, USB_TRANSPORT: [{"idVendor": 1133}]}))
    assert "does not list" in _refused(host)


def test_the_development_wildcard_vendor_covers_any_device(dext_host, tmp_path: Path):
    host = dext_host(_dext(tmp_path, {**SIGNED, USB_TRANSPORT: [{"idVendor": "*"}]}))
    assert camera_driver(host) is not None


def test_the_personality_s_own_requirement_must_be_held(dext_host, tmp_path: Path):
    kext = _dext(tmp_path, SIGNED,
                 IOServiceDEXTEntitlements=[["com.apple.developer.driverkit.family.hid.device"]])
    assert "family entitlements check failed" in _refused(dext_host(kext))


def test_an_unreadable_entitlements_file_is_named_and_refuses_the_dext(dext_host,
                                                                       tmp_path: Path):
    host = dext_host(_dext(tmp_path, b"<plist><dict><key>x</key>"))
    unreadable = next(d for d in host.diagnostics
                      if d.reference == "dext-entitlements-unreadable")
    assert unreadable.file is not None and unreadable.file.endswith("Entitlements.plist")
    _refused(host)


def test_a_program_needs_userclient_access_naming_the_dext(dext_host, tmp_path: Path):
    entitlements = {k: v for k, v in SIGNED.items() if k != ALLOW_ANY_USERCLIENT}
    host = dext_host(_dext(tmp_path, entitlements))
    driver = camera_driver(host)
    with pytest.raises(IOReturnError, match="kIOReturnNotPermitted"):
        open_user_client(host, driver, entitlements=[f"{USERCLIENT_ACCESS}=com.other.dext"])
    assert "dext-user-client-not-permitted" in {d.reference for d in host.diagnostics}
    connection = open_user_client(host, driver,
                                  entitlements=[f"{USERCLIENT_ACCESS}={DEXT_ID}"])
    connection.close()


def test_a_refused_user_client_is_gone_from_the_process_and_registry(dext_host,
                                                                     tmp_path: Path):
    entitlements = {k: v for k, v in SIGNED.items() if k != ALLOW_ANY_USERCLIENT}
    host = dext_host(_dext(tmp_path, entitlements))
    driver = camera_driver(host)
    record = next(iter(dexts(host).servers.values()))
    before = set(record.proxies)
    with pytest.raises(IOReturnError):
        open_user_client(host, driver)
    assert set(record.proxies) == before
    assert not [c for c in driver.get_clients() if c.meta_cast("IOUserUserClient")]


# -- the checks themselves -----------------------------------------------------------------------
class _PCI(IOService):
    iokit_class_name = "IOPCIDevice"


def _bridge(**extra: Any) -> IOService:
    return _PCI({"vendor-id": b"\xb5\x10\x00\x00", "device-id": b"\xd0\x87\x00\x00", **extra},
                name="pci10b5,87d0")


PEX = DextEntitlements({DRIVERKIT: True, "com.apple.developer.driverkit.transport.pci.bridge":
                        True, PCI_TRANSPORT: [{"IOPCIPrimaryMatch": "0x000010b5&0x0000FFFF"}]})


def test_the_pci_transport_must_match_the_function() -> None:
    assert dext_refusal(PEX, {}, _bridge()) is None
    other = DextEntitlements({DRIVERKIT: True, PCI_TRANSPORT: [{"IOPCIPrimaryMatch":
                                                                "0x000014e4&0x0000FFFF"}]})
    assert "no dictionary matching" in (dext_refusal(other, {}, _bridge()) or "")
    assert dext_refusal(DextEntitlements({DRIVERKIT: True, PCI_TRANSPORT: True}), {},
                        _bridge()) is None  # Apple's own


def test_a_built_in_function_needs_the_builtin_entitlement() -> None:
    assert "built-in" in (dext_refusal(PEX, {}, _bridge(**{"built-in": b"\x00"})) or "")
    builtin = DextEntitlements({**PEX.values, PCI_TRANSPORT: [
        *PEX.values[PCI_TRANSPORT], "com.apple.developer.driverkit.builtin"]})
    assert dext_refusal(builtin, {}, _bridge(**{"built-in": b"\x00"})) is None


def test_alternatives_any_of_all_of() -> None:
    nub = IOService({"IOServiceDEXTEntitlements": [["a", "b"], ["c"]]})
    assert dext_refusal(DextEntitlements({DRIVERKIT: True, "a": 1, "b": 0}), {}, nub) is None
    assert dext_refusal(DextEntitlements({DRIVERKIT: True, "c": False}), {}, nub) is None
    assert "requires b" in (dext_refusal(DextEntitlements({DRIVERKIT: True, "a": 1}), {}, nub)
                            or "")
    assert dext_refusal(DextEntitlements({DRIVERKIT: True}), {},
                        IOService({"IOServiceDEXTEntitlements": [[7]]})) is not None


def test_unknown_entitlements_are_not_checked() -> None:
    unknown = DextEntitlements(known=False)
    assert dext_refusal(unknown, {}, _bridge()) is None
    assert user_client_refusal(unknown, "x", frozenset(), None) is None


def test_driver_access_names_entitlements_the_dext_holds() -> None:
    dext = DextEntitlements({DRIVERKIT: True, "com.example.secret": True})
    ask = "com.apple.private.driverkit.driver-access=com.example.secret"
    assert user_client_refusal(dext, "x", frozenset({ask}), None) is None
    wrong = "com.apple.private.driverkit.driver-access=com.example.other"
    assert user_client_refusal(dext, "x", frozenset({wrong}), None) is not None
    # then the user client's own requirement, held by the program
    assert "requires com.example.uc" in (user_client_refusal(
        dext, "x", frozenset({ask}), [["com.example.uc"]]) or "")


_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-5, 70000),
                                 st.sampled_from(["*", DRIVERKIT, USB_TRANSPORT, "a", ""]),
                                 st.binary(max_size=4)),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.sampled_from(["idVendor", "idProduct",
                                                          "IOPCIPrimaryMatch", "x"]),
                                         inner, max_size=2), max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(entitlements=st.dictionaries(st.sampled_from([DRIVERKIT, USB_TRANSPORT, PCI_TRANSPORT,
                                                     ALLOW_ANY_USERCLIENT, "a"]), _VALUES,
                                    max_size=4),
       requirement=_VALUES, own=_VALUES, usb=st.booleans())
def test_any_entitlements_and_requirements_give_a_reason_or_pass(
        entitlements: dict[str, Any], requirement: Any, own: Any, usb: bool) -> None:
    nub: IOService = _USB({"idVendor": 1452}) if usb else _bridge()
    if requirement is not None:
        try:
            nub.set_property("IOServiceDEXTEntitlements", requirement)
        except PropertyTypeError:
            assume(False)  # not a registry value: no nub can carry it
    reason = dext_refusal(DextEntitlements(entitlements), {"IOServiceDEXTEntitlements": own},
                          nub)
    assert reason is None or isinstance(reason, str) and reason
    held = frozenset(f"{USERCLIENT_ACCESS}={v}" for v in entitlements if isinstance(v, str))
    refused = user_client_refusal(DextEntitlements(entitlements), "b", held, own)
    assert refused is None or isinstance(refused, str)


class _USB(IOService):
    iokit_class_name = "IOUSBHostDevice"
