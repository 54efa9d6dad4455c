"""The pytest plugin's power helpers (sleep, wake, advance, assert_power_state) on the sample
drivers' folders: what a driver author's power test does, and what a failure shows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iokit_host.testing import advance, assert_power_state, sleep, wake

Folder = Callable[[str], Path]


def test_sleep_and_wake_return_with_the_tree_down_and_up(iokit_host: Any,
                                                          sample_kext: Folder) -> None:
    host = iokit_host(kexts=[sample_kext("wlan-family"), sample_kext("bcm43xx")])
    card = assert_power_state(host, "AppleBCM43xx", 1)
    assert sleep(host).result == "asleep" and host.power.asleep
    assert_power_state(host, card, 0)
    assert sleep(host).result == "unchanged"
    assert wake(host, "Lid Open").result == "awake"
    assert_power_state(host, card, 1)
    wakes = [e for e in host.power.log.events() if e.kind == "system-wake"]
    assert wakes[0].detail == "wake (Lid Open)"


def test_advance_runs_the_idle_timer_on_the_host_clock(iokit_host: Any,
                                                       sample_kext: Folder) -> None:
    host = iokit_host(kexts=[sample_kext("hid-keyboard")])
    keyboard = assert_power_state(host, "SampleHIDKeyboard", 2)
    advance(host, 59_999)
    assert_power_state(host, keyboard, 2)
    advance(host, 1)
    assert host.clock.now_ns() == 60_000_000_000
    assert_power_state(host, keyboard, 1)


def test_a_wrong_state_fails_with_the_power_management_values_and_the_latest_events(
        iokit_host: Any, sample_kext: Folder) -> None:
    host = iokit_host(kexts=[sample_kext("wlan-family"), sample_kext("bcm43xx")])
    sleep(host)
    with pytest.raises(AssertionError) as caught:
        assert_power_state(host, "AppleBCM43xx", 1)
    message = str(caught.value)
    assert message.startswith("AppleBCM43xx is in power state 0, not 1\n")
    assert "'CurrentPowerState': 0" in message
    assert "set-power-state 1->0: AppleBCM43xx::set_power_state(0)" in message


def test_a_service_without_power_management_or_an_ambiguous_name_is_refused(
        iokit_host: Any, sample_kext: Folder) -> None:
    host = iokit_host(kexts=[sample_kext("hid-keyboard")])
    events = host.find("SampleHIDKeyboardEvents")
    with pytest.raises(AssertionError, match="is not power managed"):
        assert_power_state(host, events, 0)
    with pytest.raises(AssertionError, match="expected one live NoSuchDriver, found 0"):
        assert_power_state(host, "NoSuchDriver", 0)
