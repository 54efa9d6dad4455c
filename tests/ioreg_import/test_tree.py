"""Reading ioreg's tree layout: node headers, property blocks, errors with file and line."""

from __future__ import annotations

import pytest

from iokit_host.ioreg_import import IoregDumpInvalid, parse_dump, read_tree

MODERN = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  | {
  |   "IOKitBuildVersion" = "Darwin Kernel Version 11.4.2"
  | }
  | 
  +-o MacBookPro8,2  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, busy 0 (32909 ms), retain 42>
    | {
    |   "compatible" = <"MacBookPro8,2">
    | }
    | 
    +-o PCI0@0  <class IOACPIPlatformDevice, id 0x100000138, registered, matched, active, busy 0 (7546 ms), retain 56>
    | | {
    | |   "compatible" = <"PNP0A03">
    | |   "IO80211HardwareVersion" = "vendorid: 0x14e4
deviceid: 0x4328"
    | | }
    | | 
    | +-o AppleACPIPCI  <class AppleACPIPCI, id 0x1000001d9, registered, matched, active, busy 0 (7541 ms), retain 39>
    |     {
    |       "IOClass" = "AppleACPIPCI"
    |       "IOProviderClass" = "IOACPIPlatformDevice"
    |       "IONameMatch" = "PNP0A03"
    |     }
    |     
    +-o IOResources  <class IOResources, id 0x100000112, registered, matched, active, busy 0 (0 ms), retain 30>
        {
          "IOKit" = "IOService"
        }
        
"""


def test_modern_dump_becomes_a_model_with_recorded_drivers() -> None:
    model = parse_dump(MODERN, source="mbp.txt")
    assert model.root.class_name == "IOPlatformExpertDevice"
    assert model.root_properties["IOKitBuildVersion"] == "Darwin Kernel Version 11.4.2"
    pci0, resources = model.root.children
    assert (pci0.name, pci0.location, pci0.id) == ("PCI0", "0", "0x100000138")
    assert pci0.properties["IO80211HardwareVersion"] == "vendorid: 0x14e4\ndeviceid: 0x4328"
    (driver,) = pci0.children
    assert driver.recorded_driver and not pci0.recorded_driver
    assert driver.name is None  # name equals the class name
    assert resources.properties == {"IOKit": "IOService"}


def test_old_headers_and_tree_only_dumps() -> None:
    text = ("+-o Root  <class IORegistryEntry, retain count 12>\n"
            "  +-o AAPL,PowerBook  <class IOPlatformExpertDevice, retain count 20>\n"
            "    +-o pci@f2000000  <class IOPCIDevice, retain count 9>\n")
    model = parse_dump(text)
    (pci,) = model.root.children
    assert (pci.class_name, pci.name, pci.location) == ("IOPCIDevice", "pci", "f2000000")
    assert not pci.recorded_driver and dict(pci.properties) == {}


def test_inheritance_chains_become_declared_classes() -> None:
    text = ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 9>\n"
            "  +-o Mac  <class IORegistryEntry:IOService:IOPlatformExpertDevice, id 0x100000110,"
            " registered, matched, active, busy 0, retain 4>\n"
            "    +-o X  <class IORegistryEntry:IOService:IOFramebuffer:NVDA, id 0x100000111,"
            " !registered, !matched, active, busy 0, retain 4>\n")
    model = parse_dump(text)
    assert model.classes["NVDA"] == "IOFramebuffer"
    assert model.root.children[0].class_name == "NVDA"


def test_device_tree_plane_is_detected() -> None:
    text = ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
            "  +-o /  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 40>\n"
            "    | {\n    |   \"model\" = <\"MacBookPro8,2\">\n    | }\n"
            "    +-o chosen  <class IOService, id 0x100000101, !registered, retain 6>\n")
    model = parse_dump(text)
    (chosen,) = model.root.children
    assert chosen.planes[0].plane == "IODeviceTree"
    assert chosen.planes[0].parent == "0x100000110"
    assert model.name == "macbookpro8,2"


def test_multi_parent_entries_are_one_nub_with_extra_links() -> None:
    text = ("+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>\n"
            "  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, retain 4>\n"
            "    +-o A  <class IOService, id 0x100000111, registered, retain 4>\n"
            "    | +-o Shared  <class IOService, id 0x100000200, registered, retain 4>\n"
            "    |   +-o Child  <class IOService, id 0x100000201, registered, retain 4>\n"
            "    +-o B  <class IOService, id 0x100000112, registered, retain 4>\n"
            "      +-o Shared  <class IOService, id 0x100000200, registered, retain 4>\n"
            "        +-o Child  <class IOService, id 0x100000201, registered, retain 4>\n")
    model = parse_dump(text)
    a, b = model.root.children
    assert a.children[0].planes[0].plane == "IOService"
    assert a.children[0].planes[0].parent == "0x100000112"
    assert b.children == ()


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("", 1, "no entry lines"),
    ("hello world\n", 1, "not an ioreg dump"),
    ("+-o Root  <class IORegistryEntry, retain 1>\n      +-o X  <class Y, retain 1>\n", 2,
     "indented"),
    ("+-o Root  <class IORegistryEntry, retain 1>\n  | {\n  |   \"a\" = <abc>\n  | }\n", 3,
     "odd number"),
    ("+-o Root  <class IORegistryEntry, retain 1>\n  | {\n  |   \"a\" = 1\n", 1, "never closes"),
    ("+-o Root  no header\n", 1, "header"),
    ("+-o Root  <class IORegistryEntry, retain 1>\n+-o Root  <class IORegistryEntry, retain 1>\n",
     2, "second root"),
    ("+-o Root  <class IORegistryEntry, retain 1>\n  | {\n  |   \"a\" = (1,$\n  | }\n", 3,
     "'a'"),
])
def test_errors_name_file_line_and_reason(text: str, line: int, reason: str) -> None:
    with pytest.raises(IoregDumpInvalid) as info:
        read_tree(text, "dump.txt")
    diagnostic = info.value.diagnostic
    assert diagnostic.reference == "ioreg-dump-invalid"
    assert diagnostic.file == "dump.txt"
    assert diagnostic.key == f"line {line}"
    assert reason in diagnostic.message
