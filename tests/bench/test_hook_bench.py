"""Benchmark: a lifecycle hook through the host vs a bare pluggy call (DESIGN.md's costs).

Targets: a hook call through the host costs at most 1.5x a bare pluggy hook with one
implementation that calls the method; with a host-wide wrapper, the call costs at most 1.25x
pluggy's call with the same wrapper. Baselines are measured in the same run, in CPU time
(tests/bench/timing.py).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Generator

import pluggy
import pytest
from iokit_sdk import IOService, hookimpl, hookspecs

from iokit_host.host import IOKitHost
from tests.bench.timing import interleaved_cpu

pytestmark = pytest.mark.bench

N = 20_000


def _interleaved_ns(calls: dict[str, Callable[[], object]], rounds: int = 15) -> dict[str, list[float]]:
    """Per-call ns of each variant, measured round by round in turn, so that drift on a
    noisy machine lands on every variant of a round alike."""
    cpu = interleaved_cpu(calls, rounds, repeat=N, collect=False)  # tests/bench/timing.py
    return {name: [seconds * 1e9 for seconds in values] for name, values in cpu.items()}


class _Bare:
    @hookimpl
    def iokit_start(self, service: IOService, provider: IOService) -> bool:
        return service.start(provider)


class _Wrapper:
    @hookimpl(wrapper=True)
    def iokit_start(self, service: IOService, provider: IOService) -> Generator[None, bool, bool]:
        return (yield)


def _bare_manager(*plugins: object) -> pluggy.PluginManager:
    manager = pluggy.PluginManager("iokit")
    manager.add_hookspecs(hookspecs)
    for plugin in (_Bare(), *plugins):
        manager.register(plugin)
    return manager


def test_host_hook_call_costs_at_most_1_5x_a_bare_pluggy_call(benchmark) -> None:  # type: ignore[no-untyped-def]
    driver, provider = IOService(), IOService()
    bare = _bare_manager().hook.iokit_start
    host_hook = IOKitHost(disable_plugins=()).kernel.hook.iokit_start
    bare_wrapped = _bare_manager(_Wrapper()).hook.iokit_start
    wrapped_host = IOKitHost(plugins=[_Wrapper()]).kernel.hook.iokit_start

    def through_host() -> object:
        return host_hook(service=driver, provider=provider)

    benchmark(through_host)
    runs = _interleaved_ns({
        "base": lambda: bare(service=driver, provider=provider),
        "host": through_host,
        "base_w": lambda: bare_wrapped(service=driver, provider=provider),
        "host_w": lambda: wrapped_host(service=driver, provider=provider),
        "method": lambda: driver.start(provider),
    })
    median = {name: statistics.median(values) for name, values in runs.items()}
    base, host, method = median["base"], median["host"], median["method"]
    # Wrapper costs as medians of per-round differences: each round's pair ran back to back.
    base_wrap = statistics.median(w - b for w, b in zip(runs["base_w"], runs["base"]))
    host_wrap = statistics.median(w - h for w, h in zip(runs["host_w"], runs["host"]))
    print(f"\nmethod call {method:.0f} ns; bare pluggy {base:.0f} ns; through host {host:.0f} ns "
          f"(ratio {host / base:.2f})")
    print(f"wrapper cost: pluggy {base_wrap:.0f} ns, host {host_wrap:.0f} ns; wrapped call: "
          f"pluggy {median['base_w']:.0f} ns, host {median['host_w']:.0f} ns "
          f"(ratio {median['host_w'] / median['base_w']:.2f})")
    assert host <= 1.5 * base
    # With a wrapper the host runs pluggy's loop (its fenced copy); without one it skips the
    # loop altogether (the built-in plugin alone), so the difference of the two is not the
    # wrapper's cost and is printed only. The wrapped call itself must cost what pluggy's does:
    # 1.25x leaves room for noise and still catches any extra layer the host would add.
    assert median["host_w"] <= 1.25 * median["base_w"]
