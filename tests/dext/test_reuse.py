"""One process per service, or one per server (``IOUserServerOneProcess``, IOKIT_SEMANTICS §8.1;
IOUserServer.cpp ``launchUserServer``): what a crash then takes down."""

from __future__ import annotations

import os
import plistlib
import shutil
import signal
from pathlib import Path
from typing import Any

from iokit_sdk import keys
from iokit_sdk.service import IOService

from iokit_host.dext.reuse import reuse_required, same_organisation
from iokit_host.machine.model import MachineModel, NubSpec

from .conftest import DEXT, DEXT_ID, EXIT_WAIT_S, dexts

CAMERA = {"idVendor": 1452, "idProduct": 34057}


def _machine(*products: int) -> MachineModel:
    cameras = tuple(NubSpec("IOUSBHostDevice", name=f"Camera{i}", location=f"{i}",
                            properties={"idVendor": 1452, "idProduct": product})
                    for i, product in enumerate(products))
    return MachineModel("test", "cameras", NubSpec("IOPlatformExpertDevice", name="TestMac",
                                                   children=cameras))


def _dext(tmp_path: Path, **personality: Any) -> Path:
    kext = tmp_path / "iokit_test_dext"
    shutil.copytree(DEXT, kext)
    info = plistlib.loads((kext / "Info.plist").read_bytes())
    info["IOKitPersonalities"]["Camera"].update(personality)
    (kext / "Info.plist").write_bytes(plistlib.dumps(info))
    return kext


def _drivers(host: Any) -> dict[str, int]:
    """Camera name -> the pid of the driver process driving it."""
    found: dict[str, int] = {}
    for i in range(2):
        nub = host.find(f"Camera{i}")
        for client in nub.get_clients():
            if not client.is_inactive() and client.has_property("DriverPid"):
                found[nub.get_name()] = client.get_property("DriverPid")
    return found


def _kill(host: Any, pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    assert dexts(host).poll(EXIT_WAIT_S)
    host.kernel.run_until_quiet()


def test_without_one_process_each_service_has_its_own_process(dext_host):
    host = dext_host(machine=_machine(34057, 34057))
    pids = _drivers(host)
    assert len(pids) == 2 and len(set(pids.values())) == 2
    assert sorted(r.pid for r in dexts(host).rows()) == sorted(pids.values())
    servers = [s for s in host.kernel.services() if s.meta_cast("IOUserServer")]
    tags = {s.get_property("IOUserServerTag") for s in servers}
    drivers = [c for i in range(2) for c in host.find(f"Camera{i}").get_clients()
               if c.has_property("DriverPid")]
    assert tags == {d.get_registry_entry_id() for d in drivers}
    # One process dying takes only its own device down, and that device is driven again.
    _kill(host, pids["Camera0"])
    after = _drivers(host)
    assert after["Camera1"] == pids["Camera1"]
    assert after["Camera0"] not in (pids["Camera0"], pids["Camera1"])


def test_one_process_serves_every_service_of_the_server(dext_host, tmp_path: Path):
    host = dext_host(_dext(tmp_path, IOUserServerOneProcess=True), machine=_machine(34057, 34057))
    pids = _drivers(host)
    assert len(pids) == 2 and len(set(pids.values())) == 1
    row, = dexts(host).rows()
    assert row.services == 2
    _kill(host, row.pid)
    after = _drivers(host)
    assert len(set(after.values())) == 1 and set(after.values()) != set(pids.values())


def test_a_server_name_of_another_organisation_is_not_shared(dext_host, tmp_path: Path):
    kext = _dext(tmp_path, IOUserServerOneProcess=True, IOUserServerName="org.other.server")
    host = dext_host(kext, machine=_machine(34057, 34057))
    assert len(set(_drivers(host).values())) == 2
    warning = next(d for d in host.diagnostics if d.reference == "dext-server-not-reused")
    assert 'not correct organization for bundleID "com.example.test.dext"' in warning.message


def test_two_dexts_of_one_organisation_share_one_process(dext_host, tmp_path: Path):
    first = _dext(tmp_path / "a", IOUserServerOneProcess=True,
                  IOUserServerName="com.example.shared")
    second = tmp_path / "b" / "iokit_test_dext_b"
    second.mkdir(parents=True)
    (second / "__init__.py").write_text(
        "import os\nfrom iokit_sdk import IOService\n__all__ = ['OtherCamera']\n\n\n"
        "class OtherCamera(IOService):\n    def start(self, provider):\n"
        "        self.set_property('DriverPid', os.getpid())\n        return True\n")
    info = plistlib.loads((DEXT / "Info.plist").read_bytes())
    info["CFBundleIdentifier"] = "com.example.test.dext.b"
    info["IOKitPersonalities"] = {"Other": {
        **info["IOKitPersonalities"]["Camera"], "CFBundleIdentifier": "com.example.test.dext.b",
        "IOUserClass": "OtherCamera", "IOUserServerName": "com.example.shared",
        "IOUserServerOneProcess": True, "idProduct": 34058}}
    (second / "Info.plist").write_bytes(plistlib.dumps(info))
    shutil.copy(DEXT / "Entitlements.plist", second / "Entitlements.plist")
    host = dext_host(first, second, machine=_machine(34057, 34058))
    pids = _drivers(host)
    assert len(pids) == 2 and len(set(pids.values())) == 1, pids
    assert host.find("Camera1").get_clients()[-1].get_name() == "OtherCamera"


def test_the_organisation_is_the_first_two_components_and_their_dot() -> None:
    assert same_organisation(DEXT_ID, "com.example.anything")
    assert not same_organisation(DEXT_ID, "com.examples.x")
    assert not same_organisation("com.example", "com.example.x")  # no second dot: never


def test_reuse_is_required_when_the_provider_belongs_to_the_server() -> None:
    personality = {keys.USER_SERVER_NAME: "com.example.s", "IOUserServerOneProcess": False}
    assert reuse_required(personality, IOService({keys.USER_SERVER_NAME: "com.example.s"}))
    assert not reuse_required(personality, IOService({}))
    assert not reuse_required({keys.USER_SERVER_NAME: "com.example.s"},
                              IOService({keys.USER_SERVER_NAME: "com.example.s"}))
