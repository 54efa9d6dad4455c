"""Every generation's dumps: PowerPC Open Firmware (``device-tree`` root, big-endian cells,
``retain count`` headers) and Apple silicon (``compatible`` names) import and replay."""

from __future__ import annotations

from iokit_host.conformance import check_model
from iokit_host.host import IOKitHost
from iokit_host.ioreg import IoregOptions, render_text
from iokit_host.ioreg_import import parse_dump

POWERPC_DEVICE_TREE = """\
+-o Root  <class IORegistryEntry, retain count 12>
  +-o device-tree  <class IOPlatformExpertDevice, registered, matched, active, busy 0, retain count 17>
    | {
    |   "compatible" = <"PowerMac3,4","MacRISC2","MacRISC","Power Macintosh">
    |   "model" = <"PowerMac3,4">
    | }
    | 
    +-o cpus  <class IOService, !registered, !matched, active, busy 0, retain count 7>
    | +-o PowerPC,G4@0  <class IOPlatformDevice, registered, matched, active, busy 0, retain count 8>
    +-o pci@f2000000  <class IOPlatformDevice, registered, matched, active, busy 0, retain count 9>
      +-o mac-io@17  <class IOPCIDevice, registered, matched, active, busy 0, retain count 12>
          {
            "vendor-id" = <0000106b>
            "name" = <"mac-io">
          }
          
"""

POWERPC_SERVICE = """\
+-o Root  <class IORegistryEntry, retain count 12>
  +-o PowerMac3,4  <class IOPlatformExpertDevice, registered, matched, active, busy 0, retain count 17>
    +-o mac-io@17  <class IOPCIDevice, registered, matched, active, busy 0, retain count 9>
    | | {
    | |   "vendor-id" = <0000106b>
    | |   "device-id" = <00000025>
    | |   "name" = <"mac-io">
    | | }
    | | 
    | +-o KeyLargo  <class KeyLargo, registered, matched, active, busy 0, retain count 6>
    |     {
    |       "IOClass" = "KeyLargo"
    |       "IOProviderClass" = "IOPCIDevice"
    |       "IOPCIMatch" = "0x0025106b"
    |     }
    |     
    +-o IOResources  <class IOResources, registered, matched, active, busy 0, retain count 9>
"""

APPLE_SILICON = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 25>
  +-o J274AP  <class IOPlatformExpertDevice, id 0x10000020f, registered, matched, active, busy 0 (5 ms), retain 36>
    +-o wdt@2E2C4000  <class AppleARMIODevice, id 0x100000150, registered, matched, active, busy 0 (0 ms), retain 8>
    | | {
    | |   "compatible" = <"wdt,t8103","wdt,s5l8960x">
    | |   "name" = <"wdt">
    | | }
    | | 
    | +-o AppleARMWatchDogTimer  <class AppleARMWatchDogTimer, id 0x100000330, registered, matched, active, busy 0 (0 ms), retain 6>
    |     {
    |       "IOClass" = "AppleARMWatchDogTimer"
    |       "IOProviderClass" = "AppleARMIODevice"
    |       "IONameMatch" = ("wdt,s5l8960x","wdt,t8020")
    |       "IONameMatched" = "wdt,s5l8960x"
    |     }
    |     
    +-o IOResources  <class IOResources, id 0x100000101, registered, matched, active, busy 0 (0 ms), retain 30>
"""


def test_open_firmware_device_tree_is_a_device_tree_machine() -> None:
    model = parse_dump(POWERPC_DEVICE_TREE)
    assert model.name == "powermac3,4"
    assert model.root.children == ()
    assert [entry.name for entry in model.entries] == ["cpus", "PowerPC,G4", "pci", "mac-io"]
    host = IOKitHost(machine=model)
    host.boot()
    tree = render_text(host.registry, IoregOptions(plane="IODeviceTree", state=False))
    assert tree.splitlines()[1] == "  +-o device-tree  <class IOPlatformExpertDevice>"
    assert "      +-o mac-io@17  <class IOPCIDevice>" in tree
    # Nothing matched on the device tree's nodes: they are no IOService-plane nubs.
    mac_io = next(e for _, e in host.registry.walk("IODeviceTree") if e.get_name() == "mac-io")
    assert not mac_io.get_parent_entries("IOService")


def test_powerpc_big_endian_cells_replay_their_recorded_match() -> None:
    report = check_model(parse_dump(POWERPC_SERVICE))
    assert (report.attachments, report.accepted) == (1, 1)


def test_apple_silicon_compatible_names_replay_their_recorded_match() -> None:
    report = check_model(parse_dump(APPLE_SILICON))
    assert (report.attachments, report.accepted) == (1, 1)
