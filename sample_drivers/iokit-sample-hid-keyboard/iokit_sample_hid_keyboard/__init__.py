"""A USB HID boot-keyboard driver that publishes an event-service nub (IOHIDFamily's pattern)."""

from __future__ import annotations

from iokit_sample_hid_keyboard.driver import SampleHIDKeyboard, SampleHIDKeyboardEvents

__all__ = ["SampleHIDKeyboard", "SampleHIDKeyboardEvents"]
