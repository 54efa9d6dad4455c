"""Rejections: the failing key, the reason naming each ancestry link's source, the category."""

from __future__ import annotations

from iokit_host.conformance import check_model
from iokit_host.ioreg_import import parse_dump
from iokit_host.rejections import CATEGORIES
from tests.test_conformance import DUMP, MOVED_DUMP, _mccs_dump


def test_a_class_nobody_documents_is_an_unknown_ancestry_rejection() -> None:
    result = check_model(parse_dump(_mccs_dump("12C60"), source="new.txt"))
    (vendor,) = [r for r in result.rejected if r.class_name == "VendorDriver"]
    assert vendor.category == "unknown-ancestry" and vendor.key == "IOProviderClass"
    assert "the ancestry of VendorThing is unknown" in vendor.reason


def test_every_category_is_from_the_closed_set_and_post_boot_state_is_told_apart() -> None:
    moved = check_model(parse_dump(MOVED_DUMP, source="moved.txt"))
    assert {r.class_name: r.category for r in moved.rejected} == {
        "AppleACPIPlatformExpert": "post-boot-state", "NVKernel": "post-boot-state"}
    mini = check_model(parse_dump(DUMP, source="mini.txt"))
    assert {r.class_name: r.category for r in mini.rejected} == {
        "WrongDriver": "key-mismatch", "Plugin": "key-mismatch"}
    assert set(CATEGORIES) == {"unknown-ancestry", "weak-ancestry", "class-mismatch",
                               "post-boot-state", "key-mismatch"}


NAMED_DUMP = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, busy 0, retain 4>
    +-o GPIO@0  <class VendorGPIOBus, id 0x100000120, registered, matched, active, busy 0, retain 5>
      | {
      |   "compatible" = <"INT34BB">
      | }
      | 
      +-o VendorGPIO  <class VendorGPIO, id 0x100000121, registered, matched, active, busy 0, retain 5>
          {
            "IOClass" = "VendorGPIO"
            "IOProviderClass" = "IOService"
            "IONameMatch" = "INT34BB"
          }
          
"""


def test_a_name_the_unknown_class_cannot_compare_is_unknown_ancestry() -> None:
    # Only a platform or ACPI nub's comparer reads compatible; a class nobody documents gets
    # IORegistryEntry::compareName, the entry name alone.
    (rejection,) = check_model(parse_dump(NAMED_DUMP, source="named.txt")).rejected
    assert (rejection.key, rejection.category) == ("IONameMatch", "unknown-ancestry")
    assert "the ancestry of VendorGPIOBus is unknown" in rejection.reason


UART_DUMP = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  | {
  |   "OS Build Version" = "18G84"
  | }
  | 
  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, busy 0, retain 4>
    +-o BLTH  <class AppleSimpleUARTSync, id 0x100000120, registered, matched, active, busy 0, retain 5>
      +-o IOBluetoothHostControllerUARTTransport  <class IOBluetoothHostControllerUARTTransport, id 0x100000121, registered, matched, active, busy 0, retain 5>
          {
            "IOClass" = "IOBluetoothHostControllerUARTTransport"
            "IOProviderClass" = "IORS232SerialStreamSync"
          }
          
"""


def test_a_refusal_decided_by_the_ios_class_dump_blames_the_knowledge() -> None:
    # Only the iPhone class dump knows AppleSimpleUARTSync (: AppleOnboardSerialSync there);
    # a MacBookPro15,1 on 10.14.6 bound this Bluetooth transport to it as an
    # IORS232SerialStreamSync (khronokernel/DarwinDumped MacBookPro15,1 IOReg.txt).
    (rejection,) = check_model(parse_dump(UART_DUMP, source="uart.txt")).rejected
    assert (rejection.key, rejection.category) == ("IOProviderClass", "weak-ancestry")
    assert "from iOS class dump, weaker for macOS" in rejection.reason
    assert "the links of AppleSimpleUARTSync, AppleOnboardSerialSync come from a weaker" in \
        rejection.reason
