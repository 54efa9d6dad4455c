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


def test_a_reprinted_driver_with_thousands_of_children_is_matched_child_by_child_once() -> None:
    # Each re-printed child used to be matched by walking the first print's children: a
    # driver of 16,000 children printed under two parents took seconds per thousand more.
    children = "".join(f"{{indent}}  +-o child{n}  <class IOService, retain count 4>\n"
                       for n in range(16_000))
    driver = HID_SYSTEM.split("{indent}  \n")[0] + children
    model = parse_dump(
        "+-o Root  <class IORegistryEntry, retain count 12>\n"
        "  +-o PowerMac3,6  <class IOPlatformExpertDevice, retain count 20>\n"
        "    +-o P1  <class IOService, retain count 4>\n"
        + driver.format(indent="    | ", idle=1)
        + "    +-o IOResources  <class IOResources, retain count 10>\n"
        + driver.format(indent="      ", idle=2))
    (system,) = [nub for _, nub in model.nubs() if nub.class_name == "IOHIDSystem"]
    assert len(system.planes) == 1  # printed under a second parent: one entry, one link
    assert [child.name for child in system.children] == [f"child{n}" for n in range(16_000)]
