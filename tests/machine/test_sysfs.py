"""--machine host: a Linux sysfs tree as Mac-shaped PCI and USB nubs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iokit_host.machine import dump_machine, load_machine, parse_machine
from iokit_host.machine.model import NubSpec
from iokit_host.machine.sysfs import sysfs_machine


def write(folder: Path, **files: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")


def link(at: Path, target: Path) -> None:
    at.parent.mkdir(parents=True, exist_ok=True)
    at.symlink_to(os.path.relpath(target, at.parent))


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    """Root port 00:1c.1 with a BCM4331 behind it, and an xHCI controller with a keyboard."""
    sys = tmp_path / "sys"
    devices = sys / "devices" / "pci0000:00"
    bridge = devices / "0000:00:1c.1"
    wifi = bridge / "0000:03:00.0"
    xhci = devices / "0000:00:14.0"
    write(sys / "class" / "dmi" / "id", product_name="ThinkPad X1", sys_vendor="LENOVO")
    write(bridge, vendor="0x8086", device="0x1c12", subsystem_vendor="0x0000",
          subsystem_device="0x0000", **{"class": "0x060400"}, revision="0xb5")
    write(wifi, vendor="0x14e4", device="0x4331", subsystem_vendor="0x106b",
          subsystem_device="0x00d6", **{"class": "0x028000"}, revision="0x02")
    write(xhci, vendor="0x8086", device="0x9d2f", subsystem_vendor="0x17aa",
          subsystem_device="0x2245", **{"class": "0x0c0330"}, revision="0x21")
    drivers = sys / "bus" / "pci" / "drivers"
    for dev, driver in ((wifi, "bcma-pci-bridge"), (xhci, "xhci_hcd"), (bridge, "pcieport")):
        (drivers / driver).mkdir(parents=True, exist_ok=True)
        link(dev / "driver", drivers / driver)
        link(sys / "bus" / "pci" / "devices" / dev.name, dev)
    write(wifi / "firmware_node", path="\\_SB_.PCI0.RP02.ARPT")
    hub = xhci / "usb1"
    keyboard = hub / "1-2"
    write(hub, idVendor="1d6b", idProduct="0002", bcdDevice="0415", bDeviceClass="09",
          bDeviceSubClass="00", bDeviceProtocol="01", busnum="1", devnum="1", speed="480",
          bConfigurationValue="1", product="xHCI Host Controller")
    write(hub / "1-0:1.0", bInterfaceNumber="00", bInterfaceClass="09", bInterfaceSubClass="00",
          bInterfaceProtocol="00", bNumEndpoints="01", bAlternateSetting=" 0")
    write(keyboard, idVendor="05ac", idProduct="0250", bcdDevice="0224", bDeviceClass="00",
          bDeviceSubClass="00", bDeviceProtocol="00", busnum="1", devnum="3", speed="12",
          bConfigurationValue="1", product="Apple Keyboard", manufacturer="Apple Inc.")
    write(keyboard / "1-2:1.0", bInterfaceNumber="00", bInterfaceClass="03",
          bInterfaceSubClass="01", bInterfaceProtocol="01", bNumEndpoints="01")
    for dev in (hub, hub / "1-0:1.0", keyboard, keyboard / "1-2:1.0"):
        link(sys / "bus" / "usb" / "devices" / dev.name, dev)
    return sys


def find(root: NubSpec, name: str) -> tuple[int, NubSpec]:
    return next((d, n) for d, n in root.walk() if n.name == name)


def test_pci_devices_carry_mac_shaped_ids(sysfs: Path) -> None:
    model = sysfs_machine(sysfs)
    _, arpt = find(model.root, "ARPT")
    props = arpt.properties
    assert arpt.class_name == "IOPCIDevice" and arpt.location == "0"
    assert props["vendor-id"] == bytes.fromhex("e4140000")
    assert props["class-code"] == bytes.fromhex("00800200")
    assert props["name"] == "pci14e4,4331"
    assert props["compatible"] == b"pci106b,d6\0pci14e4,4331\0pciclass,028000\0"
    assert props["linux,driver"] == "bcma-pci-bridge"


def test_devices_behind_a_bridge_hang_under_its_bridge_driver(sysfs: Path) -> None:
    model = sysfs_machine(sysfs)
    bridge = next(n for _, n in model.root.walk() if n.location == "1C,1")
    [driver] = bridge.children
    assert driver.recorded_driver and driver.class_name == "IOPCI2PCIBridge"
    assert [c.name for c in driver.children] == ["ARPT"]


def test_usb_devices_and_interfaces_match_like_a_macs(sysfs: Path) -> None:
    model = sysfs_machine(sysfs)
    _, keyboard = find(model.root, "Apple Keyboard")
    assert keyboard.class_name == "IOUSBHostDevice"
    assert keyboard.properties["idVendor"] == 0x05AC and keyboard.properties["idVendor"].bits == 16
    assert keyboard.location == "1200000"
    [interface] = keyboard.children
    assert interface.class_name == "IOUSBHostInterface"
    assert (interface.properties["bInterfaceClass"], interface.properties["bInterfaceNumber"],
            interface.properties["bConfigurationValue"]) == (3, 0, 1)
    _, root_hub = find(model.root, "xHCI Host Controller")
    hub_driver = next(c for c in root_hub.children if c.recorded_driver)
    assert hub_driver.class_name == "AppleUSBHub" and keyboard in hub_driver.children


def test_the_usb_controller_driver_is_recorded_under_its_pci_nub(sysfs: Path) -> None:
    model = sysfs_machine(sysfs)
    xhci = next(n for _, n in model.root.walk() if n.location == "14")
    assert [c.class_name for c in xhci.children] == ["AppleUSBXHCI"]


def test_the_host_model_writes_and_reads_back(sysfs: Path) -> None:
    model = sysfs_machine(sysfs)
    assert parse_machine(dump_machine(model), source=str(sysfs)) == model
    assert model.root.name == "ThinkPad X1"


def test_an_empty_sysfs_is_a_bare_platform(tmp_path: Path) -> None:
    model = sysfs_machine(tmp_path)
    assert model.root.class_name == "IOPlatformExpertDevice"
    assert [c.class_name for c in model.root.children] == ["IOACPIPlatformExpert"]


def test_the_live_machine() -> None:
    live = Path("/sys/bus/pci/devices")
    if not live.is_dir() or not os.listdir(live):
        pytest.skip("no PCI devices in /sys")
    model = load_machine("host")
    pci = [n for _, n in model.nubs() if n.class_name == "IOPCIDevice"]
    assert len(pci) == len(os.listdir("/sys/bus/pci/devices"))
    assert all(len(n.properties["vendor-id"]) == 4 for n in pci)
