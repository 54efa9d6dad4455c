"""A USB HID boot-keyboard driver that publishes an event-service nub (IOHIDFamily's pattern)."""

from __future__ import annotations

from iokit_sample_hid_keyboard.driver import (
    IDLE_SECONDS,
    KEYBOARD_OFF,
    KEYBOARD_ON,
    KEYBOARD_SUSPENDED,
    SampleHIDKeyboard,
    SampleHIDKeyboardEvents,
)

__all__ = ["IDLE_SECONDS", "KEYBOARD_OFF", "KEYBOARD_ON", "KEYBOARD_SUSPENDED",
           "SampleHIDKeyboard", "SampleHIDKeyboardEvents"]
