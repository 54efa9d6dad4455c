"""SampleHIDKeyboard: a driver that is also a provider (IOUSBHIDDriver -> IOHIDEventService).

Many IOKit drivers publish nubs: a bus driver publishes a nub per device, a HID driver
publishes an event service. The pattern is the same: in ``start``, build the nub, ``attach``
it below yourself and ``register_service`` it so matching runs on it.

Power, as a USB keyboard does it: three states (:data:`KEYBOARD_POWER_STATES`): off (system
sleep), suspended (idle: USB selective suspend, a key still wakes it) and on. The driver asks
for suspended at rest (``change_power_state_to``); activity raises it to on
(``activity_tickle``, each key press: :meth:`SampleHIDKeyboard.key_pressed`), and the idle
timer (``set_idle_timer_period``, :data:`IDLE_SECONDS`) drops it back once no key came for a
period. System sleep takes it to off with its USB controller; wake brings it back.
"""

from __future__ import annotations

from iokit_sdk import IOService
from iokit_sdk.power import (
    IOPMPowerState,
    kIOPMAckImplied,
    kIOPMDeviceUsable,
    kIOPMLowPower,
    kIOPMPowerOn,
    kIOPMSuperclassPolicy1,
)

__all__ = ["HID_USAGE_KEYBOARD", "IDLE_SECONDS", "KEYBOARD_OFF", "KEYBOARD_ON",
           "KEYBOARD_POWER_STATES", "KEYBOARD_SUSPENDED", "SampleHIDKeyboard",
           "SampleHIDKeyboardEvents"]

#: HID usage page 1 (Generic Desktop), usage 6 (Keyboard).
HID_USAGE_KEYBOARD = (1, 6)

KEYBOARD_OFF, KEYBOARD_SUSPENDED, KEYBOARD_ON = 0, 1, 2
#: Off; suspended (low power, still on the bus's power); on and usable.
KEYBOARD_POWER_STATES = (
    IOPMPowerState(),
    IOPMPowerState(capability_flags=kIOPMLowPower, output_power_character=kIOPMPowerOn,
                   input_power_requirement=kIOPMPowerOn),
    IOPMPowerState(capability_flags=kIOPMPowerOn | kIOPMDeviceUsable,
                   output_power_character=kIOPMPowerOn, input_power_requirement=kIOPMPowerOn),
)
#: Seconds without a key press before the keyboard suspends.
IDLE_SECONDS = 60


class SampleHIDKeyboardEvents(IOService):
    """The nub a keyboard publishes: what an event system would match on."""


class SampleHIDKeyboard(IOService):
    """Drives a USB boot keyboard interface (class 3, subclass 1, protocol 1)."""

    #: Key presses seen (:meth:`key_pressed`).
    keys_pressed: int = 0

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
        # Power: join under the USB interface's power parent, rest suspended, be on now (the
        # keyboard was just plugged in: that is activity) and drop back when idle.
        self.pm_init()
        provider.join_pm_tree(self)
        self.register_power_driver(self, KEYBOARD_POWER_STATES)
        self.change_power_state_to(KEYBOARD_SUSPENDED)
        self.activity_tickle(kIOPMSuperclassPolicy1, KEYBOARD_ON)
        self.set_idle_timer_period(IDLE_SECONDS)
        return True

    def key_pressed(self) -> bool:
        """A key went down: activity. Returns False when the keyboard must first wake (the
        key is delivered once it is on), True when it already is."""
        self.keys_pressed += 1
        return self.activity_tickle(kIOPMSuperclassPolicy1, KEYBOARD_ON)

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        # Resume or suspend the USB device; done at once (kIOPMAckImplied).
        return kIOPMAckImplied
