"""SampleHIDKeyboard: a driver that is also a provider (IOUSBHIDDriver -> IOHIDEventService).

Many IOKit drivers publish nubs: a bus driver publishes a nub per device, a HID driver
publishes an event service. The pattern is the same: in ``start``, build the nub, ``attach``
it below yourself and ``register_service`` it so matching runs on it.
"""

from __future__ import annotations

from iokit_sdk import IOService

__all__ = ["HID_USAGE_KEYBOARD", "SampleHIDKeyboard", "SampleHIDKeyboardEvents"]

#: HID usage page 1 (Generic Desktop), usage 6 (Keyboard).
HID_USAGE_KEYBOARD = (1, 6)


class SampleHIDKeyboardEvents(IOService):
    """The nub a keyboard publishes: what an event system would match on."""


class SampleHIDKeyboard(IOService):
    """Drives a USB boot keyboard interface (class 3, subclass 1, protocol 1)."""

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        page, usage = HID_USAGE_KEYBOARD
        events = SampleHIDKeyboardEvents({
            "Transport": "USB",
            "PrimaryUsagePage": page,
            "PrimaryUsage": usage,
            "VendorID": provider.get_property("idVendor", 0),
        })
        # attach first, then register: matching must see the nub in its place in the tree.
        if not events.attach(self):
            return False
        events.register_service()
        self.register_service()
        return True
