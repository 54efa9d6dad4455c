"""The host's controls: transitions by name, and device activity on what power management
does not manage (the rest of the controls: test_rootdomain, test_idle, test_assertions)."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from iokit_sdk import IOReturn, IOService
from powerkit import add_device, events, power_host

from iokit_host.power.request_budget import MAX_REQUESTS
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


def test_a_drivers_thread_asking_without_end_cannot_hold_a_sleep_and_is_named() -> None:
    """A driver's own thread asks for a change again and again while the host sleeps. Its
    requests are submitted to the work loop, the host's thread, which runs the PM queue: the
    asking thread used to run it, beside the host's sleep (a data race on the power tree), and
    held it, so the sleep stalled. Now the sleep completes, every power call runs on the host's
    thread, and the driver that asks without end is named."""
    host = power_host()
    device = add_device(host, None, "hammer")
    ran_on: set[threading.Thread] = set()
    asked, release = threading.Event(), threading.Event()

    def answer(ordinal: int) -> int:
        ran_on.add(threading.current_thread())
        return 0

    def hammer() -> None:
        count = 0
        while not release.is_set():
            answer = device.change_power_state_to(1)
            if answer == IOReturn.BUSY:  # refused on its thread once the loop found it past
                return  # its budget (it would ask on, refused at once, queueing nothing)
            assert answer == IOReturn.SUCCESS  # queued for the work loop: kIOPMNoErr
            count += 1
            if count == 2 * MAX_REQUESTS:
                asked.set()
            time.sleep(0)  # lets the host's thread have the GIL back at once (each of its
            # system calls gives it up: the spinning thread held it 5 ms each time)

    device.answer = answer
    thread = threading.Thread(target=hammer, name="hammer", daemon=True)
    thread.start()
    try:
        assert asked.wait(30)
        (line,) = apply_events(host, [Event("sleep")])
    finally:
        release.set()
        thread.join(30)
    assert line == "[t=0ns] sleep (Software Sleep): asleep"
    assert ran_on == {threading.main_thread()}
    (runaway,) = [d for d in host.diagnostics if d.reference == "power-requests-runaway"]
    assert runaway.message.startswith("PMDevice 'hammer' on ")
    assert not [d for d in host.diagnostics if d.reference == "power-stalled"]


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
