"""SampleHIDKeyboard: binds the boot-keyboard interface and publishes an event nub."""

from __future__ import annotations

from typing import Any

from iokit_host.testing import assert_bound, assert_not_bound, drivers_named

KEXT = "com.example.driver.HIDKeyboard"


def test_binds_the_keyboard_interface_and_publishes_events(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    keyboard = assert_bound(host, "SampleHIDKeyboard", nub="Apple Internal Keyboard")
    (events,) = drivers_named(host, "SampleHIDKeyboardEvents")
    assert events.get_provider() is keyboard
    assert (events.get_property("PrimaryUsagePage"), events.get_property("PrimaryUsage")) == (1, 6)


def test_ignores_the_touchpad(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    assert_not_bound(host, "SampleHIDKeyboard", nub="Touchpad@1")
    assert_not_bound(host, "SampleHIDKeyboard", nub="Touchpad@2")


def test_unplugging_the_keyboard_removes_driver_and_nub(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    host.unplug("Apple Internal Keyboard")
    assert_not_bound(host, "SampleHIDKeyboard")
    assert drivers_named(host, "SampleHIDKeyboardEvents") == []
