"""Dumps without ids (PowerPC era): a driver of IOResources printed under several parents is
one entry with several parents; other look-alikes stay apart."""

from __future__ import annotations

from iokit_host.conformance import check_model
from iokit_host.ioreg_import import parse_dump

HID_SYSTEM = """\
{indent}+-o IOHIDSystem  <class IOHIDSystem, registered, matched, active, busy 0, retain count 14>
{indent}  {{
{indent}    "IOClass" = "IOHIDSystem"
{indent}    "IOProviderClass" = "IOResources"
{indent}    "CFBundleIdentifier" = "com.apple.iokit.IOHIDSystem"
{indent}    "HIDIdleTime" = {idle}
{indent}  }}
{indent}  
{indent}  +-o IOHIDUserClient  <class IOHIDUserClient, !registered, !matched, active, busy 0, retain count 5>
"""


def _dump() -> str:
    hub = """\
    +-o AppleUSBHub  <class AppleUSBHub, registered, matched, active, busy 0, retain count 6>
        {
          "IOClass" = "AppleUSBHub"
          "IOProviderClass" = "IOUSBDevice"
        }
        
"""
    return ("+-o Root  <class IORegistryEntry, retain count 12>\n"
            "  +-o PowerMac10,2  <class IOPlatformExpertDevice, registered, matched, active, "
            "busy 0, retain count 17>\n"
            "    +-o IOHIDPointing  <class IOHIDPointing, registered, matched, active, busy 0, "
            "retain count 8>\n"
            + HID_SYSTEM.format(indent="    | ", idle=100)
            + "    +-o IOHIDKeyboard  <class IOHIDKeyboard, registered, matched, active, busy 0, "
            "retain count 8>\n"
            + HID_SYSTEM.format(indent="    | ", idle=250)
            + "    +-o IOResources  <class IOResources, registered, matched, active, busy 0, "
            "retain count 9>\n"
            + HID_SYSTEM.format(indent="      ", idle=300)
            + hub + hub)


def test_an_ioresources_driver_printed_thrice_is_one_entry_with_three_parents() -> None:
    model = parse_dump(_dump())
    systems = [nub for _, nub in model.nubs() if nub.class_name == "IOHIDSystem"]
    assert len(systems) == 1
    (system,) = systems
    assert [link.plane for link in system.planes] == ["IOService", "IOService"]
    # Its re-printed subtree is the same entries, not copies.
    assert [child.class_name for child in system.children] == ["IOHIDUserClient"]
    report = check_model(model)
    assert not [r for r in report.rejected if r.class_name == "IOHIDSystem"]
    # Other drivers that merely look alike are two entries.
    hubs = [nub for _, nub in model.nubs() if nub.class_name == "AppleUSBHub"]
    assert len(hubs) == 2
