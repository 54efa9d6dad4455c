"""The power manager's work loop: power calls run armed like the kernel's work loop, so a
driver blocking in a power call is abandoned even when the change came from outside it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from hostkit import driven_watchdog
from iokit_sdk import IOReturn, IOService
from iokit_sdk.keys import SERVICE_PLANE
from powerkit import THREE, PMDevice, add_device, events, power_host

from iokit_host.power.request_budget import MAX_REQUESTS


def test_a_driver_blocking_in_a_system_message_is_abandoned_and_the_sleep_goes_on() -> None:
    """``host.sleep()`` runs the power queue outside the kernel's work loop: the watchdog must
    still break a blocking call there (a signal, not an exception that waits for the next
    bytecode). A thread drives the watchdog's clock while the driver blocks."""
    host = power_host()
    clock = driven_watchdog(host, limit_s=5.0)
    device = add_device(host, None, "Blocker")
    device.register_priority_sleep_wake_interest()
    done = threading.Event()

    def drive() -> None:
        while not done.is_set():
            clock.advance(0.01)

    def block(message_type: int, argument: Any) -> int:
        time.sleep(20)  # a blocking call: only a signal breaks it
        return 0

    device.on_message = block
    driver = threading.Thread(target=drive)
    driver.start()
    began = time.monotonic()
    try:
        assert host.sleep().result == "asleep"
    finally:
        done.set()
        driver.join()
    assert time.monotonic() - began < 10  # not the driver's 20 s
    assert any("message(kIOMessageSystemWillSleep) did not return within 5 s" in e.detail
               for e in events(host, "fault"))
    assert host.kernel.driver_calls.watchdog.stack == []


def _on_thread(work: Callable[[], object]) -> list[object]:
    """What ``work`` returned, run on a thread of its own (a driver's)."""
    returned: list[object] = []
    thread = threading.Thread(target=lambda: returned.append(work()), name="driver-thread")
    thread.start()
    thread.join()
    return returned


def test_a_change_a_drivers_thread_asks_for_runs_once_on_the_hosts_thread() -> None:
    """``change_power_state_to`` on a driver's own thread is answered and queued for the work
    loop (``submitPMRequest``); it ran the PM queue on that thread, beside the host's. With no
    loop running, the host's next ``run_until_quiet`` applies it, once, on the host's thread."""
    host = power_host()
    device = add_device(host, None, "threaded")
    ran_on: list[tuple[str, int]] = []

    def answer(ordinal: int) -> int:
        ran_on.append((threading.current_thread().name, ordinal))
        return 0

    device.answer = answer
    assert _on_thread(lambda: device.change_power_state_to(0)) == [IOReturn.SUCCESS]
    assert ran_on == [] and host.power.power_state(device) == 2  # the loop's to do
    assert _on_thread(lambda: device.change_power_state_to(-1)) == [IOReturn.BAD_ARGUMENT]
    assert host.kernel.pending_jobs() == 1  # checked on the thread; nothing queued
    host.kernel.run_until_quiet()
    assert ran_on == [(threading.main_thread().name, 0)]
    assert host.power.power_state(device) == 0
    host.kernel.run_until_quiet()
    assert ran_on == [(threading.main_thread().name, 0)]  # applied once


def test_a_driver_joining_power_management_on_its_thread_is_joined_by_the_loop_in_order() -> None:
    """``pm_init``, ``join_pm_tree``, ``register_power_driver`` and a change, all from a
    driver's thread: the loop runs them in the order asked, and the device gets there."""
    host = power_host()
    provider = host.registry.plane_root(SERVICE_PLANE)
    assert isinstance(provider, IOService)
    device = PMDevice(name="late")
    assert host.kernel.attach(device, provider)
    ran_on: set[threading.Thread] = set()
    device.answer = lambda ordinal: ran_on.add(threading.current_thread()) or 0

    def start() -> list[int]:
        device.pm_init()
        provider.join_pm_tree(device)
        return [device.register_power_driver(device, THREE), device.change_power_state_to(1)]

    assert _on_thread(start) == [[IOReturn.SUCCESS, IOReturn.SUCCESS]]
    assert host.power.pm_of(device) is None  # the loop's to do: it walks the blocks
    host.power.run_until_idle()
    pm = host.power.pm_of(device)
    assert pm is not None and pm.table is not None and pm.parents
    assert host.power.power_state(device) == 1
    assert ran_on == {threading.main_thread()}


def test_a_drivers_thread_past_its_budget_is_refused_there_and_queues_nothing() -> None:
    """Its requests were queued for the loop without end, each refused only there: a thread
    in a loop grew the queue by hundreds of thousands a second."""
    host = power_host()
    device = add_device(host, None, "asker")
    many = MAX_REQUESTS + 100
    assert _on_thread(lambda: {device.change_power_state_to(1) for _ in range(many)}) == [
        {IOReturn.SUCCESS}]
    host.kernel.run_until_quiet()  # the loop counts them: past the budget
    assert _on_thread(lambda: device.change_power_state_to(2)) == [IOReturn.BUSY]
    assert host.kernel.pending_jobs() == 0
