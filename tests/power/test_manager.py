"""The power manager's work loop: power calls run armed like the kernel's work loop, so a
driver blocking in a power call is abandoned even when the change came from outside it."""

from __future__ import annotations

import threading
import time
from typing import Any

from hostkit import driven_watchdog
from powerkit import add_device, events, power_host


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
