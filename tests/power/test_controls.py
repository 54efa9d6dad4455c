"""The host's controls: transitions by name, and device activity on what power management
does not manage (the rest of the controls: test_rootdomain, test_idle, test_assertions)."""

from __future__ import annotations

import pytest
from iokit_sdk import IOService
from powerkit import events, power_host


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
