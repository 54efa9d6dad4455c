"""``--machine host``: this Linux machine as a machine model, read from ``/sys`` (the part a Mac's
ACPI platform expert and PCI/USB bus drivers play when they publish nubs from firmware tables).

PCI devices (``/sys/bus/pci/devices``) become ``IOPCIDevice`` nubs and USB devices and interfaces
(``/sys/bus/usb/devices``) ``IOUSBHostDevice``/``IOUSBHostInterface`` nubs, with the property
shapes a Mac publishes: little-endian 4-byte PCI ids, ``name``/``IOName`` ``pciVVVV,DDDD``, a
``compatible`` string list, ``class-code``, ``reg``; USB ``idVendor``, ``bcdDevice``,
``bInterfaceClass``, ``locationID``. The tree follows the devices' real paths under
``/sys/devices``: bridges get a recorded ``IOPCI2PCIBridge`` driver with the devices behind them,
USB controllers a recorded controller driver with their devices. The Linux driver bound to a
device is kept as ``linux,driver``, so a personality can be tried against real hardware.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from iokit_sdk.values import OSNumber

from iokit_host.machine.model import MachineModel, NubSpec

__all__ = ["sysfs_machine"]

_BDF = re.compile(r"^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$")
_USB_DEVICE = re.compile(r"^(?:usb(\d+)|(\d+)-([\d.]+))$")
_CONTROLLER_CLASSES = {"xhci_hcd": "AppleUSBXHCI", "ehci-pci": "AppleUSBEHCI",
                       "ohci-pci": "AppleUSBOHCI", "uhci_hcd": "AppleUSBUHCI"}
_SPEEDS = {"1.5": 0, "12": 1, "480": 2, "5000": 3, "10000": 4, "20000": 4}
_CLASSES = {"AppleUSBEHCI": "AppleUSBHostController", "AppleUSBOHCI": "AppleUSBHostController",
            "AppleUSBUHCI": "AppleUSBHostController"}


@dataclass(slots=True)
class _Node:
    """A nub while the tree is assembled; frozen into a NubSpec at the end."""

    class_name: str
    name: str | None = None
    location: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    recorded_driver: bool = False
    children: list[_Node] = field(default_factory=list)
    bus_driver: _Node | None = None

    def add(self, child: _Node) -> _Node:
        self.children.append(child)
        return child

    def freeze(self) -> NubSpec:
        return NubSpec(self.class_name, self.name, self.location,
                       MappingProxyType(self.properties),
                       tuple(child.freeze() for child in self.children),
                       recorded_driver=self.recorded_driver)


def sysfs_machine(root: str | os.PathLike[str] = "/sys") -> MachineModel:
    """Model the machine whose sysfs is mounted at ``root``."""
    sysfs = Path(root)
    platform = _platform(sysfs)
    expert = platform.add(_driver("IOACPIPlatformExpert", "IOPlatformExpertDevice",
                                  "com.apple.driver.AppleACPIPlatform"))
    by_path: dict[Path, _Node] = {}
    _add_pci(sysfs, expert, by_path)
    _add_usb(sysfs, expert, by_path)
    return MachineModel(name="host", description=f"this machine, read from {sysfs}",
                        root=platform.freeze(), classes=MappingProxyType(dict(_CLASSES)),
                        source=str(sysfs))


def _platform(sysfs: Path) -> _Node:
    dmi = sysfs / "class" / "dmi" / "id"
    product = _read(dmi / "product_name") or "Linux"
    props: dict[str, Any] = {"model": _strings(product), "compatible": _strings(product),
                             "product-name": _strings(product), "name": _strings("/")}
    vendor = _read(dmi / "sys_vendor")
    if vendor:
        props["manufacturer"] = _strings(vendor)
    uuid = _read(dmi / "product_uuid")
    if uuid:
        props["IOPlatformUUID"] = uuid.upper()
    return _Node("IOPlatformExpertDevice", product, properties=props)


def _driver(class_name: str, provider: str, bundle: str, **extra: Any) -> _Node:
    props = {"IOClass": class_name, "IOProviderClass": provider, "CFBundleIdentifier": bundle,
             "IOProbeScore": OSNumber(0, 32), "IOMatchCategory": "IODefaultMatchCategory",
             **extra}
    return _Node(class_name, properties=props, recorded_driver=True)


# -- PCI ----------------------------------------------------------------------------------------

def _add_pci(sysfs: Path, expert: _Node, by_path: dict[Path, _Node]) -> None:
    devices = _entries(sysfs / "bus" / "pci" / "devices")
    # Parents before children: a device's real path is below its bridge's.
    for real in sorted(devices, key=lambda p: (len(p.parts), p.name)):
        match = _BDF.match(real.name)
        if match is None:
            continue
        parent = by_path.get(real.parent)
        if parent is None:
            bus = _host_bridge(real.parent, expert, by_path).bus_driver
        else:
            bus = parent.bus_driver or _bridge_driver(parent)
        assert bus is not None
        by_path[real] = bus.add(_pci_nub(real, match))


def _host_bridge(folder: Path, expert: _Node, by_path: dict[Path, _Node]) -> _Node:
    key = folder / ".host-bridge"
    existing = by_path.get(key)
    if existing is not None:
        return existing
    index = sum(1 for path in by_path if path.name == ".host-bridge")
    domain_bus = folder.name.removeprefix("pci")
    node = expert.add(_Node("IOACPIPlatformDevice", f"PCI{index}", f"{index:X}", {
        "compatible": _strings("PNP0A03"), "name": _strings("PNP0A08"),
        "linux,sysfs-path": str(folder), "linux,pci-domain-bus": domain_bus}))
    node.bus_driver = node.add(_driver("AppleACPIPCI", "IOACPIPlatformDevice",
                                       "com.apple.driver.AppleACPIPlatform",
                                       IONameMatch="PNP0A03", IONameMatched="PNP0A03"))
    by_path[key] = node
    return node


def _bridge_driver(bridge: _Node) -> _Node:
    bridge.bus_driver = bridge.add(_driver("IOPCI2PCIBridge", "IOPCIDevice",
                                           "com.apple.iokit.IOPCIFamily",
                                           IOPCIClassMatch="0x06040000&0xffff0000"))
    return bridge.bus_driver


def _pci_nub(real: Path, match: re.Match[str]) -> _Node:
    bus, dev, fn = int(match[2], 16), int(match[3], 16), int(match[4])
    vendor, device = _hex(real / "vendor"), _hex(real / "device")
    sub_vendor, sub_device = _hex(real / "subsystem_vendor"), _hex(real / "subsystem_device")
    class_code, revision = _hex(real / "class"), _hex(real / "revision")
    ident = f"pci{vendor or 0:x},{device or 0:x}"
    compatible = [f"pci{sub_vendor:x},{sub_device:x}"] if sub_vendor and sub_device else []
    compatible += [ident, f"pciclass,{(class_code or 0) & 0xFFFFFF:06x}"]
    props: dict[str, Any] = {"name": ident, "IOName": ident, "compatible": _strings(*compatible)}
    for key, value in (("vendor-id", vendor), ("device-id", device),
                       ("subsystem-vendor-id", sub_vendor), ("subsystem-id", sub_device),
                       ("revision-id", revision), ("class-code", class_code)):
        if value is not None:
            props[key] = (value & 0xFFFFFFFF).to_bytes(4, "little")
    props["reg"] = ((bus << 16) | (dev << 11) | (fn << 8)).to_bytes(4, "little") + bytes(16)
    props["pcidebug"] = f"{bus}:{dev}:{fn}"
    props["linux,sysfs-path"] = real.name
    driver = _driver_name(real)
    if driver:
        props["linux,driver"] = driver
    location = f"{dev:X},{fn:X}" if fn else f"{dev:X}"
    return _Node("IOPCIDevice", _acpi_name(real) or ident, location, props)


def _acpi_name(real: Path) -> str | None:
    path = _read(real / "firmware_node" / "path")
    if not path:
        return None
    last = path.replace("\\", "").split(".")[-1].rstrip("_")
    return last or None


# -- USB ----------------------------------------------------------------------------------------

def _add_usb(sysfs: Path, expert: _Node, by_path: dict[Path, _Node]) -> None:
    entries = _entries(sysfs / "bus" / "usb" / "devices")
    devices = [p for p in entries if _USB_DEVICE.match(p.name) and (p / "idVendor").exists()]
    for real in sorted(devices, key=lambda p: (len(p.parts), p.name)):
        parent = by_path.get(real.parent)
        if parent is not None and parent.class_name == "IOUSBHostDevice":
            home = parent.bus_driver or _hub_driver(parent)
        else:
            home = _controller(real.parent, parent, expert, by_path)
        node = home.add(_usb_device(real))
        by_path[real] = node
        for interface in sorted(p for p in entries if p.parent == real and ":" in p.name):
            node.add(_usb_interface(interface, node))


def _hub_driver(hub: _Node) -> _Node:
    hub.bus_driver = hub.add(_driver("AppleUSBHub", "IOUSBHostDevice",
                                     "com.apple.driver.AppleUSBHub",
                                     bDeviceClass=OSNumber(9, 8)))
    return hub.bus_driver


def _controller(folder: Path, pci: _Node | None, expert: _Node,
                by_path: dict[Path, _Node]) -> _Node:
    if pci is not None and pci.bus_driver is not None:
        return pci.bus_driver
    linux = pci.properties.get("linux,driver") if pci is not None else None
    class_name = _CONTROLLER_CLASSES.get(str(linux), "IOUSBHostController")
    provider = "IOPCIDevice" if pci is not None else "IOPlatformDevice"
    driver = _driver(class_name, provider, "com.apple.driver.usb." + class_name)
    if pci is None:
        holder = by_path.get(folder) or expert.add(
            _Node("IOPlatformDevice", folder.name, properties={"linux,sysfs-path": folder.name}))
        by_path[folder] = holder
        pci = holder
    pci.bus_driver = pci.add(driver)
    return driver


def _usb_device(real: Path) -> _Node:
    match = _USB_DEVICE.match(real.name)
    assert match is not None
    bus = int(match[1] or match[2])
    ports = [int(p) for p in match[3].split(".")] if match[3] else []
    location_id = bus << 24
    for depth, port in enumerate(ports[:6]):
        location_id |= (port & 0xF) << (20 - 4 * depth)
    props: dict[str, Any] = {}
    for key, bits in (("idVendor", 16), ("idProduct", 16), ("bcdDevice", 16),
                      ("bDeviceClass", 8), ("bDeviceSubClass", 8), ("bDeviceProtocol", 8),
                      ("bMaxPacketSize0", 8), ("bNumConfigurations", 8)):
        value = _number(real / key, 16 if key.startswith(("id", "bcd", "bDevice")) else 10)
        if value is not None:
            props[key] = OSNumber(value, bits)
    for key, filename in (("USB Product Name", "product"), ("USB Vendor Name", "manufacturer"),
                          ("USB Serial Number", "serial")):
        text = _read(real / filename)
        if text:
            props[key] = text
    props["locationID"] = OSNumber(location_id & 0xFFFFFFFF, 32)
    address = _number(real / "devnum", 10)
    if address is not None:
        props["USB Address"] = OSNumber(address, 32)
    speed = _SPEEDS.get(_read(real / "speed") or "")
    if speed is not None:
        props["Device Speed"] = OSNumber(speed, 32)
    _linux(real, props)
    return _Node("IOUSBHostDevice", _read(real / "product") or None, f"{location_id:x}", props)


def _usb_interface(real: Path, device: _Node) -> _Node:
    props: dict[str, Any] = {key: device.properties[key]
                             for key in ("idVendor", "idProduct", "bcdDevice")
                             if key in device.properties}
    config = _number(real.parent / "bConfigurationValue", 10)
    if config is not None:
        props["bConfigurationValue"] = OSNumber(config, 8)
    for key in ("bInterfaceNumber", "bAlternateSetting", "bInterfaceClass",
                "bInterfaceSubClass", "bInterfaceProtocol", "bNumEndpoints"):
        value = _number(real / key, 16)
        if value is not None:
            props[key] = OSNumber(value, 8)
    props["locationID"] = device.properties["locationID"]
    name = _read(real / "interface")
    if name:
        props["USB Interface Name"] = name
    _linux(real, props)
    number = props.get("bInterfaceNumber", 0)
    return _Node("IOUSBHostInterface", name or None, f"{number:X}", props)


# -- reading sysfs --------------------------------------------------------------------------------

def _entries(folder: Path) -> list[Path]:
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [Path(os.path.realpath(folder / name)) for name in names]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _number(path: Path, base: int) -> int | None:
    text = _read(path)
    if not text:
        return None
    try:
        return int(text, base)
    except ValueError:
        return None


def _hex(path: Path) -> int | None:
    return _number(path, 16)


def _driver_name(real: Path) -> str | None:
    try:
        return Path(os.readlink(real / "driver")).name
    except OSError:
        return None


def _linux(real: Path, props: dict[str, Any]) -> None:
    props["linux,sysfs-path"] = real.name
    driver = _driver_name(real)
    if driver:
        props["linux,driver"] = driver


def _strings(*items: str) -> bytes:
    return b"".join(item.encode("utf-8") + b"\x00" for item in items)
