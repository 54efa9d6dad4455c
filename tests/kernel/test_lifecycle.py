"""Lifecycle bookkeeping: busy counts propagate upward; registerService needs registry members."""

from __future__ import annotations

from hostkit import make_host, wifi_nub
from iokit_sdk import IOService
from iokit_sdk.service import SYNCHRONOUS, ServiceState

from iokit_host.clock import HostClock
from iokit_host.kernel.lifecycle import adjust_busy


def test_busy_propagates_on_zero_transitions_only_and_accumulates_time() -> None:
    host = make_host([wifi_nub()], []).boot()
    nub = host.find("pci14e4,4331")
    root = host.registry.plane_root("IOService")
    clock = HostClock()
    since: dict[int, int] = {}
    adjust_busy(nub, +1, clock, since)
    adjust_busy(nub, +1, clock, since)
    assert (nub.get_busy_state(), root.get_busy_state()) == (2, 1)
    clock.advance(7)
    adjust_busy(nub, -2, clock, since)
    assert (nub.get_busy_state(), root.get_busy_state()) == (0, 0)
    assert nub._busy_time_ns == 7


def test_nub_is_busy_until_its_queued_match_runs() -> None:
    host = make_host([wifi_nub()], []).boot()
    root = host.registry.plane_root("IOService")
    late = IOService(name="late")
    late.attach(root)
    late.register_service()
    assert late.get_busy_state() == 1 and root.get_busy_state() == 1
    assert not late.get_state() & ServiceState.REGISTERED
    host.kernel.run_until_quiet()
    assert late.get_busy_state() == 0 and root.get_busy_state() == 0
    assert late.get_state() & ServiceState.MATCHED


def test_synchronous_registration_matches_inline() -> None:
    host = make_host([wifi_nub()], []).boot()
    late = IOService(name="late")
    late.attach(host.registry.plane_root("IOService"))
    late.register_service(SYNCHRONOUS)
    assert late.get_state() & ServiceState.MATCHED
    assert host.kernel.pending_jobs() == 0


def test_register_service_refuses_a_service_outside_the_registry() -> None:
    host = make_host([wifi_nub()], []).boot()
    loose = IOService(name="loose")
    loose._kernel = host.kernel
    loose.register_service()
    assert host.kernel.pending_jobs() == 0
    assert [d.reference for d in host.diagnostics] == ["service-not-registry-member"]
