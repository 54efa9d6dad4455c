"""Power in driver tests: sleep, wake and time on the host clock, and a power-state assertion.

What a driver author checks on a Mac with ``pmset sleepnow``, a wait and ``ioreg -l``'s
``IOPowerManagement``, a test does in a few lines, without sleeping for real::

    from iokit_host.testing import advance, assert_power_state, sleep, wake

    def test_powers_down_for_sleep(iokit_host):
        host = iokit_host(kexts=["com.example.driver.BCM43xx", "com.example.iokit.WLANFamily"])
        sleep(host)
        assert_power_state(host, "AppleBCM43xx", 0)
        wake(host)
        assert_power_state(host, "AppleBCM43xx", 1)

``sleep`` and ``wake`` return once the whole tree is down or up (a late driver is waited for on
the host clock, then flagged); ``advance`` moves the host clock, running idle timers and
acknowledgement timeouts as they fall due.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iokit_sdk import IOService

from iokit_host.testing.fates import drivers_named

if TYPE_CHECKING:
    from iokit_host.host import IOKitHost
    from iokit_host.power.rootdomain import Transition

__all__ = ["advance", "assert_power_state", "sleep", "wake"]

#: How many of a service's latest log events a failed assertion shows.
_SHOWN_EVENTS = 8


def sleep(host: IOKitHost, reason: str = "Software Sleep") -> Transition:
    """Put the system to sleep (a demand sleep, as ``pmset sleepnow``); returns once asleep."""
    return host.sleep(reason)


def wake(host: IOKitHost, reason: str = "User Activity") -> Transition:
    """Wake the system; returns once every device is back up."""
    return host.wake(reason)


def advance(host: IOKitHost, ms: float) -> None:
    """Move the host clock ``ms`` milliseconds, running the timers that fall due."""
    host.advance(ms)


def assert_power_state(host: IOKitHost, driver: IOService | str, state: int) -> IOService:
    """Assert ``driver`` (a service, or the class name of its one live instance) is in power
    state ``state``; return it.

    On failure the message shows the service's ``IOPowerManagement`` and its latest
    sleep/wake log events, as ``ioreg -l`` and ``pmset -g log`` would.
    """
    service = _one(host, driver)
    pm = host.power.pm_of(service)
    if pm is None or pm.table is None:
        raise AssertionError(f"{service.iokit_class_name} is not power managed (no "
                             "register_power_driver): it has no power state")
    current = host.power.power_state(service)
    if current != state:
        path = host.path_of(service)
        recent = [e for e in host.power.log.events() if e.path == path][-_SHOWN_EVENTS:]
        lines = [f"  {e.t_ms:.3f} ms {e.kind} {e.from_state}->{e.to_state}: {e.detail}"
                 for e in recent] or ["  (no power event for it)"]
        raise AssertionError(
            f"{service.iokit_class_name} is in power state {current}, not {state}\n"
            f"IOPowerManagement = {service.get_property('IOPowerManagement')}\n"
            f"its latest power events:\n" + "\n".join(lines))
    return service


def _one(host: IOKitHost, driver: IOService | str) -> IOService:
    if isinstance(driver, IOService):
        return driver
    found = drivers_named(host, driver)
    if len(found) != 1:
        raise AssertionError(f"expected one live {driver}, found {len(found)}: pass the "
                             "service itself")
    return found[0]
