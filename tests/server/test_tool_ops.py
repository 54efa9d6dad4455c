"""Tool requests to a real ``iokit kernel`` over its socket: ``tool.explain`` by registry entry
id, as the explorer asks (a name holding a ``/`` has no path that finds it); ``tool.registry``
in parts, so a big registry's snapshot does not hold other clients back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from iokit_sdk.iokitlib import (
    IORegistryEntryGetRegistryEntryID,
    IOServiceGetMatchingService,
    IOServiceMatching,
    MainPort,
)
from iokit_sdk.returns import IOReturn
from kernelkit import KernelFactory, KernelProcess, big_machine

from iokit_host.server.client import fetch_registry
from iokit_host.server.snapshot import PART_BUDGET_S, RESTARTS
from iokit_host.server.snapshot_pipeline import fetch

#: Entries of the big kernel's registry (the machine's nubs and the root).
BIG = 20_000
#: How long a test waits for something the kernel owes it, at most (never a sleep).
WAIT_S = 60.0


@pytest.fixture(scope="module")
def big_kernel(kext_dist: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[KernelProcess]:
    """A kernel of a 20,000-nub machine (booting it takes some seconds: shared)."""
    machine = big_machine(tmp_path_factory.mktemp("big") / "big.toml", BIG)
    factory = KernelFactory(kext_dist)
    try:
        yield factory.start("--machine", str(machine), "--only-kexts")
    finally:
        factory.close()


def test_explain_by_entry_id_names_the_service_and_refuses_an_id_that_is_none(
        kernel: KernelProcess) -> None:
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        entry_id = IORegistryEntryGetRegistryEntryID(service)
        reply = port.request("tool.explain", entry=entry_id)
        assert reply["ret"] == IOReturn.SUCCESS, reply
        by_path = port.request("tool.explain", target=reply["explanation"]["provider"])
        assert reply["explanation"] == by_path["explanation"]
        missing = port.request("tool.explain", entry=0xDEAD)
        assert missing["ret"] == IOReturn.NOT_FOUND
        assert missing["error"]["message"] == "no service with registry entry id 0xdead"
        assert port.request("tool.explain", entry="x")["ret"] == IOReturn.BAD_ARGUMENT


def test_another_client_is_answered_while_a_20k_snapshot_comes_in_parts(
        big_kernel: KernelProcess) -> None:
    """One tool.registry request took the whole registry at once: 20,000 nubs held every
    other client back about 0.23 s (B's tool.status measured 140-240 ms). The kernel now
    takes a snapshot in parts of PART_BUDGET_S and the tool asks on at once. A asks for its
    parts; once it has the first, B sends a request, and A asks for a third part only after B
    has its answer: B must be answered while A's snapshot still has parts to come (a kernel
    serving A's snapshot whole answers B after it, and A waits for B in vain)."""
    a_began, b_sent, b_answered = threading.Event(), threading.Event(), threading.Event()
    parts: list[bool] = []  # each part's ``more``, as A receives them
    taken: list[dict[str, Any]] = []

    def take_as_a(port: MainPort) -> None:
        def ask(**fields: Any) -> dict[str, Any]:
            if len(parts) == 1:
                assert b_sent.wait(WAIT_S)
            elif len(parts) >= 2:
                assert b_answered.wait(WAIT_S), "B was not answered during A's snapshot"
            reply = port.call("tool.registry", **fields)
            parts.append(bool(reply.get("more")))
            a_began.set()
            return reply
        taken.append(fetch(ask))

    with MainPort(big_kernel.path) as a, MainPort(big_kernel.path) as b:
        a_thread = threading.Thread(target=take_as_a, args=(a,))
        a_thread.start()
        b.call("tool.status")  # connected and served once, before A's snapshot matters
        assert a_began.wait(WAIT_S)  # A has its first part
        b_sent.set()
        reply = b.call("tool.status")
        a_parts_then = list(parts)
        b_answered.set()
        a_thread.join(WAIT_S)
    assert reply["ret"] == IOReturn.SUCCESS and f"{BIG} nubs" in reply["summary"]
    assert not a_thread.is_alive() and len(taken) == 1
    assert a_parts_then and a_parts_then[-1], "B was answered only after A's whole snapshot"
    print(f"\n{BIG:,} entries in {len(parts)} parts of {PART_BUDGET_S * 1000:g} ms; B answered"
          f" after A's part {len(a_parts_then)}")
    assert len(parts) >= 3 and parts[-1] is False and all(parts[:-1])
    ids = [record["id"] for record in taken[0]["entries"]]
    assert len(set(ids)) == len(ids) >= BIG  # each entry once, none lost between parts
    assert ids[0] == taken[0]["root"]


def _plug(port: MainPort, index: int) -> None:
    """Change the registry's shape: a nub plugged under N1."""
    reply = port.call("tool.events", events=[{
        "action": "plug", "parent": "N1",
        "nub": {"class": "IOService", "name": f"Plugged{index}", "location": f"{index:x}"}}])
    assert reply["diagnostics"] == [] and len(reply["lines"]) == 1, reply


def test_a_snapshot_whose_registry_changed_between_parts_starts_again_and_ends(
        big_kernel: KernelProcess) -> None:
    """The parts of one snapshot fit together only while the registry's shape stays the same
    (its generation, as IOKit's iterators): a part asked for after a nub was plugged is
    ``stale`` and the tool starts again. After RESTARTS stale walks in a row the
    connection's next walk is taken whole, so a registry that keeps changing still ends."""
    before = len(fetch_registry(big_kernel.path))
    with MainPort(big_kernel.path) as a, MainPort(big_kernel.path) as b:
        for index in range(RESTARTS):
            first = a.call("tool.registry")
            assert first["more"] and first["snapshot"]["entries"], first.keys()
            _plug(b, index)
            reply = a.call("tool.registry", generation=first["generation"],
                           after=first["snapshot"]["entries"][-1][0])  # a row's id
            assert reply["stale"] and reply["generation"] != first["generation"]
            assert "snapshot" not in reply
        whole = a.call("tool.registry")  # the walk it owes after RESTARTS stale ones
        assert whole["more"] is False
        assert len(whole["snapshot"]["entries"]) == before + RESTARTS
        again = a.call("tool.registry")  # a walk that ended: parts again
        assert again["more"] is True
        bad = a.request("tool.registry", generation=again["generation"], after=0xDEAD)
        assert bad["ret"] == IOReturn.BAD_ARGUMENT and "'after'" in bad["message"]
        _plug(b, RESTARTS)
        registry = fetch_registry(big_kernel.path)
    assert len(registry) == before + RESTARTS + 1
    plugged = [e for e in registry.entries() if e.get_name().startswith("Plugged")]
    assert len(plugged) == RESTARTS + 1
    assert all(e.get_parent_entry("IOService") is not None for e in plugged)


def test_a_snapshot_asked_for_the_old_way_gets_its_first_part_and_more(
        kernel: KernelProcess) -> None:
    """A small registry comes in one part (``more`` false): the reply is the whole
    snapshot, as before; a request's ``generation`` must come with ``after``."""
    with MainPort(kernel.path) as port:
        reply = port.call("tool.registry")
        assert reply["more"] is False and reply["snapshot"]["planes"][0] == "IOService"
        bad = port.request("tool.registry", generation=reply["generation"])
        assert bad["ret"] == IOReturn.BAD_ARGUMENT


def test_stale_answers_to_forged_generations_do_not_earn_a_whole_walk(
        big_kernel: KernelProcess) -> None:
    """Only a walk of this connection's that went stale counts toward the whole walk owed
    after RESTARTS: a client naming generations it was never given (the registry unchanged)
    made the kernel take all 20,000 entries in one request, holding every other client back,
    every RESTARTS + 1 requests."""
    with MainPort(big_kernel.path) as port:
        current = port.call("tool.registry")["generation"]
        for forged in range(RESTARTS + 1):
            reply = port.call("tool.registry", generation=current + 1 + forged, after=1)
            assert reply["stale"] and reply["generation"] == current
        assert port.call("tool.registry")["more"] is True  # a part, as for anyone
