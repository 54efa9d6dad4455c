"""Assertions: idle sleep held off while one is on, demand sleep never; refused requests."""

from __future__ import annotations

import pytest
from powerkit import add_device, events, power_host

from iokit_host.errors import IOKitError


def test_an_idle_sleep_preventer_holds_idle_sleep_off_but_not_a_demand_sleep() -> None:
    host = power_host()
    device = add_device(host, None, "Disk")
    assertion = host.power.create_assertion("PreventUserIdleSystemSleep", "copying files",
                                            owner="cp", pid=314)
    assert host.power.idle_sleep().result == "prevented"
    assert device.get_power_state() == 2
    (veto,) = events(host, "veto")
    assert 'PreventUserIdleSystemSleep "copying files" (pid 314)' in veto.detail
    assert host.sleep().result == "asleep"  # the lid closed
    host.wake()
    assert host.power.release_assertion(assertion.assertion_id)
    assert host.power.idle_sleep().result == "asleep"


def test_display_sleep_assertions_do_not_hold_the_system_up() -> None:
    host = power_host()
    host.power.create_assertion("PreventUserIdleDisplaySleep", "video")
    off = host.power.create_assertion("PreventSystemSleep", "at level off", level=0)
    assert not off.on
    assert host.power.idle_sleep().result == "asleep"


def test_assertions_are_listed_and_logged_with_their_ids() -> None:
    host = power_host()
    first = host.power.create_assertion("NoIdleSleepAssertion", "legacy")
    second = host.power.create_assertion("PreventSystemSleep", "backup", pid=7)
    assert first.assertion_id != second.assertion_id and second.assertion_id >> 32 == 7
    assert [a.name for a in host.power.assertions.active()] == ["legacy", "backup"]
    assert host.power.assertions.system_wide()["PreventSystemSleep"] == 1
    assert not host.power.release_assertion(12345)
    host.power.release_assertion(first.assertion_id)
    logged = [e.detail for e in events(host, "assertion")]
    assert logged[0].startswith('created NoIdleSleepAssertion "legacy" [0x')
    assert logged[-1].startswith('released NoIdleSleepAssertion "legacy"')


@pytest.mark.parametrize(("kind", "name", "level"), [
    ("PreventEverything", "x", 255), ("PreventSystemSleep", "", 255),
    ("PreventSystemSleep", "x", 100), ("PreventSystemSleep", "x" * 200, 255)])
def test_requests_powerd_would_refuse_raise_our_error(kind: str, name: str, level: int) -> None:
    host = power_host()
    with pytest.raises(IOKitError) as caught:
        host.power.create_assertion(kind, name, level=level)
    assert caught.value.ref == "power-assertion-invalid"
    assert not host.power.assertions.active()


def test_deprecated_types_count_under_their_current_name_system_wide() -> None:
    # pmset -g assertions on a Mac: a NoIdleSleepAssertion shows PreventUserIdleSystemSleep 1
    host = power_host()
    host.power.create_assertion("NoIdleSleepAssertion", "legacy")
    host.power.create_assertion("NoDisplaySleepAssertion", "legacy video")
    status = host.power.assertions.system_wide()
    assert status["PreventUserIdleSystemSleep"] == 1
    assert status["PreventUserIdleDisplaySleep"] == 1
    assert "NoIdleSleepAssertion" not in status and "NoDisplaySleepAssertion" not in status


def test_a_service_in_a_prevent_idle_sleep_state_holds_idle_sleep_off_but_not_a_demand_sleep(
        ) -> None:
    from iokit_sdk.power import IOPMPowerState, kIOPMPowerOn, kIOPMPreventIdleSleep

    busy = (IOPMPowerState(), IOPMPowerState(
        capability_flags=kIOPMPowerOn | kIOPMPreventIdleSleep,
        output_power_character=kIOPMPowerOn, input_power_requirement=kIOPMPowerOn))
    host = power_host()
    display = add_device(host, None, "Display", states=busy)
    assert host.power.idle_sleep_preventers() == [display]
    assert host.power.idle_sleep().result == "prevented"
    (veto,) = events(host, "veto")
    assert veto.detail == "idle sleep prevented by PMDevice (kIOPMPreventIdleSleep)"
    assert host.sleep().result == "asleep"
    assert host.power.idle_sleep_preventers() == []  # off while asleep
    host.wake()
    display.change_power_state_to(0)
    host.power.run_until_idle()
    assert host.power.idle_sleep().result == "asleep"


def test_a_listing_goes_a_page_at_a_time_whatever_is_released_meanwhile() -> None:
    assertions = power_host().power.assertions
    made = [assertions.create("PreventUserIdleSystemSleep", f"a{i}", pid=i % 3)
            for i in range(300)]
    first, more = assertions.page(0, 100)
    assert first == made[:100] and more
    for gone in made[95:250]:  # its cursor among them, then the compaction they cause
        assertions.release(gone.assertion_id)
    rest, more = assertions.page(first[-1].assertion_id, 100)
    assert rest == made[250:300] and not more
    for gone in made[250:]:
        assertions.release(gone.assertion_id)
    assert assertions.page(made[94].assertion_id, 100) == ([], False)
    assert assertions.page(0, 1000)[0] == made[:95]
    assert assertions.system_wide()["PreventUserIdleSystemSleep"] == 1
    for gone in made[:95]:
        assertions.release(gone.assertion_id)
    assert assertions.system_wide()["PreventUserIdleSystemSleep"] == 0
