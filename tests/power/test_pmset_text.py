"""What ``pmset -g log`` and ``pmset -g assertions`` print: tardy and vetoing drivers named,
powerd's wording for transitions, durations, and the assertion layout of pmset.m."""

from __future__ import annotations

from typing import Any

from iokit_sdk.messages import kIOMessageCanSystemSleep
from iokit_sdk.power import IOPMPowerState, kIOPMPowerOn, kIOPMPreventIdleSleep
from powerkit import add_device, power_host

from iokit_host.power.pmset_text import render_assertions, render_log, stamp


def _log(host: Any) -> list[str]:
    return render_log(host.power.log.events()).splitlines()


def test_stamps_count_from_boot_on_the_host_clock() -> None:
    assert stamp(0) == "1970-01-01 00:00:00 +0000"
    assert stamp(10_100_000_000, millis=True) == "1970-01-01 00:00:10.100 +0000"
    assert stamp(86_400 * 10**9 + 1) == "1970-01-02 00:00:00 +0000"


def test_a_tardy_driver_is_named_with_its_wait_and_the_sleep_lasts_as_long() -> None:
    host = power_host()
    add_device(host, None, "Dev").answer = 5000  # "5 ms, I will acknowledge" and never does
    host.sleep()
    lines = _log(host)
    (tardy,) = [line for line in lines if "Kernel Client Acks" in line]
    assert tardy.startswith("1970-01-01 00:00:10.100 +0000 Kernel Client Acks  \t")
    assert ("PMDevice is tardy: PMDevice::set_power_state(0) timed out after 10100 ms "
            "(IOService:/Dev)") in tardy
    (sleep,) = [line for line in lines if " Sleep   " in line]
    assert "Entering Sleep state due to 'Software Sleep'" in sleep
    assert sleep.endswith("\t10.100 secs")
    (change,) = [line for line in lines if "[2 -> 0]" in line]
    assert "PMDevice IOService:/Dev [2 -> 0]: PMDevice::set_power_state(0): timed out" in change
    assert lines[-1] == "Total Sleep/Wakes since boot at 1970-01-01 00:00:00 +0000 :1"


def test_a_vetoing_driver_is_named_and_the_vetoed_sleep_is_not_counted() -> None:
    host = power_host()
    device = add_device(host, None, "Dev")
    device.register_priority_sleep_wake_interest()
    device.on_message = lambda kind, argument: device.cancel_power_change(
        argument.power_ref) if kind == kIOMessageCanSystemSleep else 0
    assert host.power.idle_sleep().result == "vetoed"
    lines = _log(host)
    (veto,) = [line for line in lines if "Sleep Veto" in line]
    assert "PMDevice cancelled kIOMessageCanSystemSleep (IOService:/Dev)" in veto
    assert any("Idle sleep due to 'Idle Sleep' did not happen: vetoed" in line
               for line in lines)
    assert lines[-1].endswith(" :0")


def test_assertions_fold_deprecated_types_and_print_rare_ones_only_when_set() -> None:
    host = power_host()
    host.power.create_assertion("NoIdleSleepAssertion", "legacy", owner="HalfCaff", pid=51669)
    text = render_assertions(host.power.assertions.active(),
                             host.power.assertions.system_wide(), [], 15 * 10**9)
    lines = text.splitlines()
    assert lines[:10] == [
        "1970-01-01 00:00:15 +0000 ", "Assertion status system-wide:",
        "   BackgroundTask                 0", "   ApplePushServiceTask           0",
        "   UserIsActive                   0", "   PreventUserIdleDisplaySleep    0",
        "   PreventSystemSleep             0", "   ExternalMedia                  0",
        "   PreventUserIdleSystemSleep     1", "   NetworkClientActive            0"]
    assert lines[11] == ('   pid 51669(HalfCaff): [0x0000c9d500010001] 00:00:15 '
                         'NoIdleSleepAssertion named: "legacy" ')
    assert "PreventDiskIdle" not in text
    host.power.create_assertion("PreventDiskIdle", "backup")
    text = render_assertions(host.power.assertions.active(),
                             host.power.assertions.system_wide(), [], 0)
    assert "   PreventDiskIdle                1" in text


def test_idle_sleep_preventers_are_the_services_in_a_prevent_idle_sleep_state() -> None:
    host = power_host()
    busy = (IOPMPowerState(), IOPMPowerState(
        capability_flags=kIOPMPowerOn | kIOPMPreventIdleSleep,
        output_power_character=kIOPMPowerOn, input_power_requirement=kIOPMPowerOn))
    add_device(host, None, "IODisplayWrangler", states=busy)
    names = [s.get_name() for s in host.power.idle_sleep_preventers()]
    text = render_assertions((), host.power.assertions.system_wide(), names, 0)
    assert text.splitlines()[-2:] == ["No kernel assertions.",
                                      "Idle sleep preventers: IODisplayWrangler"]
