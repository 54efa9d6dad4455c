"""The built-in default machine reads like the MacBookPro8,2 it was modelled on."""

from __future__ import annotations

import re
from pathlib import Path

from iokit_host.host import IOKitHost
from iokit_host.machine import load_machine
from iokit_host.machine.format import dump_machine, parse_machine
from iokit_host.machine.model import NubSpec
from iokit_host.registry import from_path

from .conftest import typed_model

DUMP = "khronokernel__DarwinDumped__MacBookPro_MacBookPro8_2_IORegDump_IOReg.txt"


def nub(name: str) -> NubSpec:
    return next(n for _, n in load_machine("default").nubs() if n.name == name)


def test_the_wifi_card_publishes_what_a_mac_publishes() -> None:
    arpt = nub("ARPT").properties
    assert arpt["vendor-id"] == bytes.fromhex("e4140000")
    assert arpt["device-id"] == bytes.fromhex("31430000")
    assert arpt["class-code"] == bytes.fromhex("00800200")
    assert arpt["name"] == "pci14e4,4331" == arpt["IOName"]
    assert arpt["compatible"] == b"pci106b,d6\0pci14e4,4331\0pciclass,028000\0"


def test_the_keyboard_is_a_hid_interface_of_an_apple_usb_device() -> None:
    keyboard = nub("Apple Internal Keyboard").properties
    assert (keyboard["idVendor"], keyboard["bInterfaceClass"], keyboard["bInterfaceSubClass"],
            keyboard["bInterfaceProtocol"]) == (0x05AC, 3, 1, 1)
    assert nub("Touchpad").properties["bInterfaceNumber"] == 1


def test_it_boots_into_mac_like_paths() -> None:
    host = IOKitHost()
    host.load_machine()
    wifi = "IOService:/AppleACPIPlatformExpert/PCI0@0/AppleACPIPCI/RP02@1C,1/IOPCI2PCIBridge/ARPT@0"
    for path in (wifi,
                 "IOService:/AppleACPIPlatformExpert/PCI0@0/AppleACPIPCI/HDEF@1B",
                 "IOService:/AppleACPIPlatformExpert/SMC",
                 "IOService:/IOResources"):
        assert from_path(host.registry, path) is not None, path
    nodes = sum(1 for _ in host.registry.walk("IOService"))
    assert 30 < nodes < 400


def test_it_survives_dump_and_parse() -> None:
    model = load_machine("default")
    assert typed_model(parse_machine(dump_machine(model))) == typed_model(model)


def test_pci_property_names_come_from_the_real_dump(corpus: Path) -> None:
    text = (corpus / "ioreg" / DUMP).read_text(encoding="utf-8", errors="replace")
    real_keys = set(re.findall(r'^[ |]*"([^"]+)" = ', text, flags=re.MULTILINE))
    for name in ("ARPT", "HDEF", "SATA", "IGPU", "EHC2"):
        invented = set(nub(name).properties) - real_keys
        assert not invented, (name, invented)
