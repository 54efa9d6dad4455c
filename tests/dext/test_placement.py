"""Which drivers run out of process: dexts, ``--isolate`` and ``IOKitHostIsolate``; the corpus's
dext plists load and match."""

from __future__ import annotations

import os
import plistlib
import shutil
from pathlib import Path

import pytest

from iokit_host.kext.bundle import KextBundle
from iokit_host.machine.model import MachineModel, NubSpec

from .conftest import ISOLATED, ISOLATED_ID, camera_driver, dexts


def test_an_isolated_driver_exiting_in_start_ends_only_its_process(dext_host):
    host = dext_host(ISOLATED, isolate=(ISOLATED_ID,))
    driver = camera_driver(host)
    assert driver is not None and driver.iokit_class_name == "SteadyDriver"
    row, = dexts(host).rows()
    assert driver.get_property("DriverPid") == row.pid != os.getpid()
    assert (row.crashes, row.launches) == (1, 2)
    crashed = next(d for d in host.diagnostics if d.reference == "dext-client-crashed")
    assert "exited with status 0 during start" in crashed.message


def test_the_manifest_key_isolates_too(dext_host, tmp_path: Path):
    kext = tmp_path / "iokit_test_isolated"
    shutil.copytree(ISOLATED, kext)
    with (kext / "Info.plist").open("rb") as f:
        info = plistlib.load(f)
    info["IOKitHostIsolate"] = True
    with (kext / "Info.plist").open("wb") as f:
        plistlib.dump(info, f)
    host = dext_host(kext)
    assert camera_driver(host).iokit_class_name == "SteadyDriver"
    assert dexts(host).rows()[0].server == ISOLATED_ID


def _corpus_machine() -> MachineModel:
    bridge = NubSpec("IOPCIDevice", name="pci10b5,87d0", location="0",
                     properties={"vendor-id": b"\xb5\x10\x00\x00",
                                 "device-id": b"\xd0\x87\x00\x00"})
    mouse = NubSpec("IOHIDInterface", name="G703", properties={"VendorID": 1133,
                                                                "ProductID": 49287})
    root = NubSpec("IOPlatformExpertDevice", name="TestMac", children=(bridge, mouse))
    return MachineModel("test", "a machine with a PEX8733 switch and a G703 mouse", root)


def _corpus_bundles(corpus: Path) -> list[KextBundle]:
    """The corpus's dext plists; a personalities-only fragment (no CFBundleIdentifier) is
    refused as a manifest, so its personalities are wrapped in a bundle of their own."""
    from hostkit import kext

    from iokit_host.kext.manifest import read_manifest

    bundles: list[KextBundle] = []
    for index, path in enumerate(sorted((corpus / "dext").glob("*Info.plist"))):
        bundle_id = f"com.corpus.dext{index}"
        bundle, found = read_manifest(path, defines={"PRODUCT_BUNDLE_IDENTIFIER": bundle_id})
        if bundle is not None:
            assert bundle.is_dext, path.name
            bundles.append(bundle)
            continue
        assert "manifest-missing-bundle-identifier" in {d.reference for d in found}
        with path.open("rb") as f:
            personalities = plistlib.load(f)["IOKitPersonalities"]
        bundles.append(kext(bundle_id, {name: {**table, "IOUserServerName": bundle_id}
                                        for name, table in personalities.items()}))
    return bundles


def test_the_corpus_dext_plists_load_and_match_their_devices(corpus: Path):
    if not list((corpus / "dext").glob("*Info.plist")):
        pytest.skip("no dext plists in the corpus")
    from iokit_host.host import IOKitHost

    host = IOKitHost(_corpus_machine(), kexts=_corpus_bundles(corpus))
    try:
        host.boot()
        names = {s.get_name() for s in host.kernel.services() if s.meta_cast("IOUserService")}
        # NullDriver waits on IOUserResources, PEX8733 matches its PCI device id, the mouse
        # driver its HID interface (a family proxy class, AppleUserHIDEventService).
        assert {"NullDriver", "PCIDriverKitPEX8733", "DeliberateMouseDriver"} <= names
        mouse = host.find("DeliberateMouseDriver")
        assert mouse is not None and mouse.iokit_class_name == "AppleUserHIDEventService"
        running = {r.server for r in dexts(host).rows() if r.state == "running"}
        assert "com.apple.PCIDriverKitPEX8733" in running
    finally:
        dexts(host).shutdown()
