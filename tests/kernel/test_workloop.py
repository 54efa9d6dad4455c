"""The work loop's own queries: ``getMatchingServices`` over the live registry."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from iokit_host import registry as registry_package
from iokit_host.host import IOKitHost
from iokit_host.matching import passive
from iokit_host.registry import get_path


def test_matching_services_compile_the_dictionary_once_and_look_a_path_up_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A client's dictionary was compiled again for every service (an IOPropertyMatch of
    200,000 keys: 0.5 s over 59 services) and its IOPathMatch parsed again for every
    service (a 3 MB path: 0.5 s; some 130 s on a machine of 20,000)."""
    host = IOKitHost().boot()
    kernel = host.kernel
    services = kernel.services()
    assert len(services) > 20
    compiled: list[object] = []
    looked_up: list[str] = []
    real_compile, real_from_path = passive.compile_plan, registry_package.from_path

    def compile_plan(table: Any) -> passive.MatchPlan:
        compiled.append(table)
        return real_compile(table)

    def from_path(registry: Any, path: str, plane: str | None = None) -> Any:
        looked_up.append(path)
        return real_from_path(registry, path, plane)
    monkeypatch.setattr(passive, "compile_plan", compile_plan)
    monkeypatch.setattr(registry_package, "from_path", from_path)

    assert kernel.copy_matching_services(
        {"IOPropertyMatch": {str(i): i for i in range(10_000)}}) == []
    assert compiled == []  # compiled once by the work loop, never per service
    target = services[-1]
    path = get_path(host.registry, target, "IOService")
    assert path is not None
    assert kernel.copy_matching_services({"IOPathMatch": path}) == [target]
    assert len(looked_up) <= 2
    assert kernel.copy_matching_services({"IOPathMatch": "IOService:" + "/a" * 100_000}) == []


def test_jobs_a_thread_queues_while_the_loop_runs_wait_for_its_next_round() -> None:
    """A driver's thread queueing jobs without end (a power request in a loop) kept
    ``run_until_quiet`` running for ever: each run takes what other threads queued before it
    began, the rest at the next, so the kernel's loop goes back to its clients between."""
    kernel = IOKitHost().boot().kernel
    ran: list[str] = []

    def from_a_thread(name: str) -> None:
        thread = threading.Thread(target=kernel.post, args=(lambda: ran.append(name),))
        thread.start()
        thread.join()

    from_a_thread("first")
    kernel.post(lambda: from_a_thread("later"))  # queued by a thread while the loop runs
    assert kernel.run_until_quiet() == 2 and ran == ["first"]
    assert kernel.pending_jobs() == 1
    assert kernel.run_until_quiet() == 1 and ran == ["first", "later"]
