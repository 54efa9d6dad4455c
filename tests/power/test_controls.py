"""The host's controls: transitions by name, and device activity on what power management
does not manage (the rest of the controls: test_rootdomain, test_idle, test_assertions)."""

from __future__ import annotations

import sys

import pytest
from iokit_sdk import IOService
from powerkit import add_device, events, power_host


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
