"""SampleHIDKeyboard: binds the boot-keyboard interface and publishes an event nub."""

from __future__ import annotations

from typing import Any

from iokit_sample_hid_keyboard import (
    IDLE_SECONDS,
    KEYBOARD_OFF,
    KEYBOARD_ON,
    KEYBOARD_SUSPENDED,
)

from iokit_host.testing import (
    advance,
    assert_bound,
    assert_not_bound,
    assert_power_state,
    drivers_named,
    sleep,
    wake,
)

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


def test_suspends_when_idle_and_wakes_on_a_key(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    keyboard = assert_power_state(host, "SampleHIDKeyboard", KEYBOARD_ON)
    advance(host, IDLE_SECONDS * 1000 - 1)
    assert_power_state(host, keyboard, KEYBOARD_ON)  # not idle for a whole period yet
    advance(host, 1)
    assert_power_state(host, keyboard, KEYBOARD_SUSPENDED)
    advance(host, 10 * IDLE_SECONDS * 1000)
    assert_power_state(host, keyboard, KEYBOARD_SUSPENDED)  # rests there, never off
    assert keyboard.key_pressed() is False  # it had to wake first
    host.power.run_until_idle()
    assert_power_state(host, keyboard, KEYBOARD_ON)
    assert keyboard.key_pressed() is True  # already on
    drops = [e for e in host.power.log.events()
             if e.kind == "idle-drop" and e.class_name == "SampleHIDKeyboard"]
    assert [e.t_ms for e in drops] == [IDLE_SECONDS * 1000, 2 * IDLE_SECONDS * 1000]


def test_a_key_in_each_period_keeps_it_on(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    keyboard = assert_power_state(host, "SampleHIDKeyboard", KEYBOARD_ON)
    for _ in range(5):
        advance(host, IDLE_SECONDS * 1000 // 2)
        keyboard.key_pressed()
    assert_power_state(host, keyboard, KEYBOARD_ON)


def test_sleeps_off_with_the_system_and_comes_back_on_wake(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
    keyboard = assert_power_state(host, "SampleHIDKeyboard", KEYBOARD_ON)
    sleep(host)
    assert_power_state(host, keyboard, KEYBOARD_OFF)
    wake(host)
    assert_power_state(host, keyboard, KEYBOARD_ON)
