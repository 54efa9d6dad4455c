"""Benchmark: booting a generated machine (10,000 nubs, 2,000 personalities, 200 classes).

Targets: boot time linear in nubs (10k/1k ratio <= 11); within 10x of building the same
registry and calling one hook per node; memory per registry entry (tracemalloc, nubs carry
one small property) reported, aim <= 2 KiB.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable

import pytest
from iokit_sdk import IOService, keys

from iokit_host.host import IOKitHost
from iokit_host.kext.bundle import KextBundle
from iokit_host.machine.model import MachineModel, NubSpec

pytestmark = pytest.mark.bench

CLASSES = 200
PER_CLASS = 10  # 2,000 personalities
DRIVER_CLASSES = [type(f"BenchDriver{i}", (IOService,), {"__slots__": ()}) for i in range(20)]


def _machine(nubs: int) -> MachineModel:
    buses = []
    per_bus = nubs // 100
    for bus in range(100):
        children = tuple(
            NubSpec(f"BenchNub{(bus * per_bus + i) % CLASSES}", name="nub", location=f"{i:x}",
                    properties={"kind": (bus * per_bus + i) % PER_CLASS})
            for i in range(per_bus))
        buses.append(NubSpec("IOService", name="bus", location=f"{bus:x}", children=children))
    root = NubSpec("IOPlatformExpertDevice", name="BenchMac", children=tuple(buses))
    classes = {f"BenchNub{c}": "IOService" for c in range(CLASSES)}
    return MachineModel("bench", "generated", root, classes=classes)


def _kext() -> KextBundle:
    personalities = {
        f"p{c}-{k}": {keys.CLASS: f"BenchDriver{(c + k) % 20}",
                      keys.PROVIDER_CLASS: f"BenchNub{c}", keys.PROBE_SCORE: k,
                      keys.PROPERTY_MATCH: {"kind": k}, keys.BUNDLE_IDENTIFIER: "com.bench"}
        for c in range(CLASSES) for k in range(PER_CLASS)}
    return KextBundle(bundle_id="com.bench", version="1.0", version_value=1,
                      personalities=personalities)


def _host(nubs: int) -> IOKitHost:
    host = IOKitHost(_machine(nubs), kexts=[_kext()])
    host.classes.register_kext_classes("com.bench", DRIVER_CLASSES)
    return host


def _boot(nubs: int) -> IOKitHost:
    return _host(nubs).boot()


def _baseline(nubs: int) -> None:
    """Build the same registry and call one hook per node."""
    host = _host(nubs)
    hook = host.kernel.hook.iokit_publish
    for nub in host.load_machine():
        hook(service=nub)


def _interleaved_s(calls: dict[str, Callable[[], object]], rounds: int = 5) -> dict[str, list[float]]:
    """Seconds per call of each variant, measured round by round in turn (so drift on a noisy
    machine lands on every variant alike), collecting the previous run's garbage first so no
    sample pays for another's."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            gc.collect()
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return samples


def test_boot_is_linear_in_nubs_and_within_10x_of_building_the_registry(benchmark) -> None:  # type: ignore[no-untyped-def]
    host = benchmark.pedantic(_boot, args=(10_000,), rounds=1, iterations=1)
    assert host.summary().drivers_started == 10_000
    del host
    runs = _interleaved_s({"big": lambda: _boot(10_000), "small": lambda: _boot(1_000),
                           "base": lambda: _baseline(10_000)})
    big, small, base = (statistics.median(runs[name]) for name in ("big", "small", "base"))
    print(f"\nboot 1k nubs {small * 1e3:.0f} ms; 10k nubs {big * 1e3:.0f} ms "
          f"(ratio {big / small:.1f}); registry + one hook per node {base * 1e3:.0f} ms "
          f"(boot/baseline {big / base:.1f})")
    assert big / small <= 11
    assert big / base <= 10


def test_memory_per_registry_entry() -> None:
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    host = _boot(10_000)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    allocated = sum(s.size_diff for s in after.compare_to(before, "filename"))
    entries = len(host.registry)
    per_entry = allocated / entries
    print(f"\n{entries} entries, {allocated / 1024:.0f} KiB: {per_entry:.0f} B per entry "
          "(machine model specs, catalogue and match records included)")
    assert per_entry <= 2048
