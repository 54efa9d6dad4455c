"""Idle timers and activity tickles on the driven clock (§6.7)."""

from __future__ import annotations

from hostilekit import HostileInt
from powerkit import PowerJournal, add_device, events, power_host

from iokit_host.power.idle import INT_MAX


def _idle_device(period_s: int = 10):  # type: ignore[no-untyped-def]
    journal = PowerJournal()
    host = power_host()
    device = add_device(host, None, "Kbd", journal=journal, want=0)
    assert device.activity_tickle(1, 2) is False  # a rise was queued
    host.power.run_until_idle()
    assert device.get_power_state() == 2
    assert device.set_idle_timer_period(period_s) == 0
    journal.clear()
    return host, device, journal


def test_the_idle_timer_steps_down_one_state_per_idle_period_then_stops() -> None:
    host, device, journal = _idle_device()
    host.advance(9_999)
    assert device.get_power_state() == 2
    host.advance(1)
    assert device.get_power_state() == 1
    host.advance(10_000)
    assert device.get_power_state() == 0
    host.advance(60_000)
    assert journal.of("set_power_state") == [("Kbd", 1), ("Kbd", 0)]
    drops = events(host, "idle-drop")
    assert [(e.t_ms, e.from_state, e.to_state) for e in drops] == [(10_000, 2, 1), (20_000, 1, 0)]
    assert "idle for 10 s" in drops[0].detail


def test_a_tickle_raises_the_device_and_answers_whether_the_caller_must_wait() -> None:
    host, device, _ = _idle_device()
    assert device.activity_tickle(1, 2) is True  # already tickled at this state
    host.advance(20_000)
    assert device.get_power_state() == 0
    assert device.activity_tickle(1, 2) is False  # the drop forgot the tickle: rise queued
    host.power.run_until_idle()
    assert device.get_power_state() == 2
    assert device.activity_tickle(0, 2) is True  # kIOPMSubclassPolicy: not IOService's business


def test_a_tickle_policy_of_the_drivers_own_int_type_is_compared_by_its_value() -> None:
    """The policy is read as a plain int: the driver's ``__eq__``/``__ne__`` (raising
    SystemExit here) never run, and its value still counts."""
    host, device, _ = _idle_device()
    host.advance(20_000)
    assert device.get_power_state() == 0
    assert device.activity_tickle(HostileInt(1), 2) is False  # IOService's policy: rise queued
    host.power.run_until_idle()
    assert device.get_power_state() == 2
    assert device.activity_tickle(HostileInt(0), 2) is True


def test_activity_within_the_period_postpones_the_drop() -> None:
    host, device, _ = _idle_device()
    host.advance(5_000)
    device.activity_tickle(1, 2)
    host.advance(5_000)  # 10 s since the timer started, 5 s since the activity
    assert device.get_power_state() == 2
    host.advance(5_000)
    assert device.get_power_state() == 1


def test_host_tickle_wakes_an_idled_device() -> None:
    host, device, _ = _idle_device()
    host.advance(20_000)
    assert host.power.tickle(device) is False and device.get_power_state() == 2


def test_a_system_sleep_stops_idle_timers_and_the_wake_restarts_them() -> None:
    host, device, _ = _idle_device()
    host.advance(5_000)
    host.sleep()
    host.advance(60_000)
    assert not events(host, "idle-drop")
    host.wake()
    assert device.get_power_state() == 2
    host.advance(10_000)
    assert device.get_power_state() == 1


def test_idle_timer_period_arguments_are_checked() -> None:
    host, device, _ = _idle_device()
    assert device.set_idle_timer_period(-1) == 0xE00002C2
    assert device.set_idle_timer_period(INT_MAX + 1) == 0xE00002C2
    assert device.set_idle_timer_period(0) == 0  # stops the timer
    host.advance(100_000)
    assert device.get_power_state() == 2
    assert device.get_property("IOPowerManagement").get("IdleTimerPeriod") is None
    device.set_idle_timer_period(3)
    assert device.get_property("IOPowerManagement")["IdleTimerPeriod"] == 3000


def test_a_driver_desire_holds_the_device_up_whatever_the_idle_timer_says() -> None:
    host, device, _ = _idle_device()
    device.change_power_state_to(2)
    host.advance(60_000)
    assert device.get_power_state() == 2
    assert len(events(host, "idle-drop")) == 2  # the device desire still stepped down
