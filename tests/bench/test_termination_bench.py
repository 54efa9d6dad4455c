"""Benchmark: terminating every service of a wide registry (a running kernel's shutdown).

A parent's links are an ordered list (attach order decides ioreg's child order and which
parent is the provider), and termination detaches the newest first; a scan of the parent's
children at each detach made terminating 70,000 children of one nub take minutes (20,000:
7.8 s). Target: terminating 20,000 children of one nub within 30x terminating 1,000 (linear
is 20x; the scan made it 122x at these sizes, and worse beyond), CPU time, medians of
interleaved rounds, each round on freshly booted registries (the boots are not timed).
"""

from __future__ import annotations

import gc
import statistics
import time

import pytest
from hostkit import machine
from iokit_sdk import IOService
from iokit_sdk.keys import SERVICE_PLANE

from iokit_host.host import IOKitHost
from iokit_host.kernel.termination import terminate
from iokit_host.machine import NubSpec

pytestmark = pytest.mark.bench

ROUNDS = 5
SMALL, LARGE = 1_000, 20_000
BOUND = 30.0


def _booted(children: int) -> IOKitHost:
    nubs = [NubSpec("IOService", name=f"c{n}", location=str(n)) for n in range(children)]
    return IOKitHost(machine(*nubs), kexts=[]).boot()


def _terminate_all(host: IOKitHost, children: int) -> float:
    """CPU seconds to terminate the platform and every service below it, and run what that
    queued."""
    root = host.registry.plane_root(SERVICE_PLANE)
    assert isinstance(root, IOService)
    gc.collect()
    start = time.process_time()
    victims = terminate(host.kernel, root)
    host.kernel.run_until_quiet()
    elapsed = time.process_time() - start
    assert len(victims) > children and all(victim.is_inactive() for victim in victims)
    return elapsed


def test_terminating_a_wide_registry_is_linear_in_its_children() -> None:
    small: list[float] = []
    large: list[float] = []
    for _ in range(ROUNDS):
        hosts = (_booted(SMALL), _booted(LARGE))
        small.append(_terminate_all(hosts[0], SMALL))
        large.append(_terminate_all(hosts[1], LARGE))
    ratio = statistics.median(large) / statistics.median(small)
    print(f"\nterminate {SMALL:,} children {statistics.median(small) * 1e3:.0f} ms, "
          f"{LARGE:,} children {statistics.median(large) * 1e3:.0f} ms (ratio {ratio:.1f}, "
          f"linear {LARGE // SMALL}, bound {BOUND:g})")
    assert ratio <= BOUND
