"""The host's controls: transitions by name, and device activity on what power management
does not manage (the rest of the controls: test_rootdomain, test_idle, test_assertions)."""

from __future__ import annotations

import sys
import threading

import pytest
from iokit_sdk import IOReturn, IOService
from powerkit import add_device, events, power_host

from iokit_host.scenario.applying import apply_events
from iokit_host.scenario.events import Event


def test_a_transition_of_another_name_is_refused_and_nothing_happens() -> None:
    host = power_host()
    with pytest.raises(ValueError, match="unknown system transition 'nap': sleep, idle or wake"):
        host.power.request_transition("nap")
    assert not host.power.asleep and not events(host, "system-sleep")


def test_activity_on_a_service_without_power_management_changes_nothing() -> None:
    host = power_host()
    loner = IOService(name="loner")
    assert host.power.tickle(loner) is False
    assert host.power.pm_of(loner) is None


def test_a_driver_replacing_stdout_in_a_power_change_has_it_put_back_and_is_told() -> None:
    """A sleep a scenario asks for runs drivers' power code outside the work loop's jobs; it
    is checked as a job is, so the command's output still reaches the user."""
    host = power_host()
    device = add_device(host, None, "rude")
    kept = sys.stdout

    def replace_stdout(ordinal: int) -> int:
        sys.stdout = None  # type: ignore[assignment]
        return 0

    device.answer = replace_stdout
    try:
        assert host.sleep().result == "asleep"
        restored = sys.stdout
    finally:
        sys.stdout = kept
    assert restored is kept
    (found,) = [d for d in host.diagnostics if d.reference == "driver-changed-host"]
    assert found.message.startswith("driver code run during power management closed, "
                                    "redirected or reconfigured the host's standard streams")
    assert "sys.stdout" in found.message


def test_a_stall_with_no_timer_is_said_as_it_is_naming_the_driver_that_asks() -> None:
    """A driver's own thread runs the PM queue (its request found it idle) and, from its
    set_power_state, asks for changes until told to stop; the host's sleep meanwhile cannot
    finish, and nothing on the clock can end the wait. The stall says so and names that
    driver, and the scenario's line says the sleep is unfinished (it said ``None``, and the
    warning claimed 100000 timer steps with 'no timer', naming no driver)."""
    host = power_host()
    device = add_device(host, None, "hammer")
    inside, release = threading.Event(), threading.Event()

    def answer(ordinal: int) -> int:
        if threading.current_thread() is not threading.main_thread() and not inside.is_set():
            inside.set()
            while not release.is_set():  # holds the PM queue on its thread, asking
                device.change_power_state_to(1)
        return 0

    device.answer = answer
    thread = threading.Thread(target=device.change_power_state_to, args=(1,), daemon=True)
    thread.start()
    try:
        assert inside.wait(30)
        (line,) = apply_events(host, [Event("sleep")])
    finally:
        release.set()
        thread.join(30)
    assert line == "[t=0ns] sleep (Software Sleep): unfinished (power management stalled)"
    (stall,) = [d for d in host.diagnostics if d.reference == "power-stalled"]
    assert "no timer that could end the wait" in stall.message
    assert "100000" not in stall.message
    assert "PMDevice 'hammer' on " in stall.message and stall.subject == "PMDevice"


def test_a_driver_asking_for_its_state_without_end_is_refused_and_named() -> None:
    """A driver whose set_power_state asks for the state it just left flips for ever: the
    PM queue never empties, and the host hung. Past a budget its requests are refused."""
    host = power_host()
    device = add_device(host, None, "flipper")
    flips = [0]

    def answer(ordinal: int) -> int:
        flips[0] += 1
        if flips[0] < 5_000:  # bounded here only so that the old code ends
            assert device.change_power_state_to(0 if ordinal else 2) in (0, IOReturn.BUSY)
        return 0

    device.answer = answer
    device.change_power_state_to(0)
    host.power.run_until_idle()
    assert flips[0] < 5_000
    (runaway,) = [d for d in host.diagnostics if d.reference == "power-requests-runaway"]
    assert runaway.message.startswith("PMDevice 'flipper' on ")
    assert runaway.subject == "PMDevice"
    assert host.sleep().result == "asleep"  # the rest of power management goes on
