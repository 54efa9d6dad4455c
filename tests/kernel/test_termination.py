"""Termination: IOKit's phase order (Appendix B scenario 4), sole-provider rule, busy counts."""

from __future__ import annotations

from hostkit import Journal, kext, make_host, personality, wifi_nub
from iokit_sdk import IOService
from iokit_sdk.service import TERMINATE_WITH_REMATCH, ServiceState

from iokit_host.machine.model import NubSpec


def _chain_classes(journal: Journal) -> list[type[IOService]]:
    """B drives the PCI nub and publishes nub N; C drives N. Every call is journalled."""

    class Journalled(IOService):
        def will_terminate(self, provider: IOService, options: int) -> bool:
            journal.add("will_terminate", self, provider)
            return True

        def did_terminate(self, provider: IOService, options: int) -> bool:
            journal.add("did_terminate", self, provider)
            return True

        def stop(self, provider: IOService) -> None:
            journal.add("stop", self, provider)

        def free(self) -> None:
            journal.add("free", self)

    class B(Journalled):
        def start(self, provider: IOService) -> bool:
            nub = IOService({"role": "child"}, name="N")
            nub.attach(self)
            nub.register_service()
            return True

    class C(Journalled):
        pass

    return [B, C]


def _boot(journal: Journal):  # type: ignore[no-untyped-def]
    bundle = kext("com.test.chain", {
        "B": personality("B", score=1000),
        "C": personality("C", provider="IOService", IOPropertyMatch={"role": "child"}),
    })
    host = make_host([wifi_nub()], [bundle], {"com.test.chain": _chain_classes(journal)})
    host.boot()
    host.add_matching_notification(
        "terminated", {}, lambda s: journal.add("terminated", s))
    return host


def test_appendix_b4_termination_order_and_busy_back_to_zero() -> None:
    journal = Journal()
    host = _boot(journal)
    nub = host.find("pci14e4,4331")
    driver_b = host.drivers_of(nub)[0]
    host.unplug(nub)
    names = [(m, n) for m, n, _ in journal.calls]
    assert names == [
        # phase 1, top-down, breadth-first
        ("terminated", "pci14e4,4331"), ("terminated", "B"), ("terminated", "N"),
        ("terminated", "C"),
        # phase 2: willTerminate top-down, then didTerminate bottom-up
        ("will_terminate", "B"), ("will_terminate", "C"),
        ("did_terminate", "C"), ("did_terminate", "B"),
        # phase 3: leaves first
        ("stop", "C"), ("free", "C"), ("stop", "B"), ("free", "B"),
    ]
    assert driver_b.is_inactive() and nub.is_inactive()
    assert host.find("pci14e4,4331") is None and host.find("N") is None
    root = host.registry.plane_root("IOService")
    assert root.get_busy_state() == 0 and nub.get_busy_state() == 0
    assert not nub.get_state() & (ServiceState.REGISTERED | ServiceState.MATCHED)


def test_a_client_with_another_provider_survives() -> None:
    journal = Journal()
    host = _boot(journal)
    child = host.find("N")
    other = IOService(name="other-provider")
    host.kernel.attach(other, host.registry.plane_root("IOService"))
    host.kernel.attach(child, other)
    host.unplug(host.drivers_of("pci14e4,4331")[0])
    assert not child.is_inactive()
    assert child.get_parent_entries() == (other,)
    assert [d.iokit_class_name for d in host.drivers_of(child)] == ["C"]


def test_terminate_with_rematch_registers_the_provider_again() -> None:
    journal = Journal()
    host = _boot(journal)
    nub = host.find("pci14e4,4331")
    first = host.drivers_of(nub)[0]
    first.terminate(TERMINATE_WITH_REMATCH)
    host.kernel.run_until_quiet()
    (again,) = host.drivers_of(nub)
    assert again is not first and again.iokit_class_name == "B"
    assert host.find("N") is not None


def test_a_driver_raising_in_stop_does_not_stop_termination() -> None:
    class Grumpy(IOService):
        def stop(self, provider: IOService) -> None:
            raise RuntimeError("still busy")

    bundle = kext("com.test.grumpy", {"g": personality("Grumpy", score=900)})
    host = make_host([wifi_nub()], [bundle], {"com.test.grumpy": [Grumpy]}).boot()
    host.unplug("pci14e4,4331")
    assert host.find("pci14e4,4331") is None
    (stopped,) = host.diagnostics
    assert stopped.reference == "driver-stop-raised"
    # which kext's driver, on which nub: the class alone named neither
    assert stopped.message == ("Grumpy 'Grumpy' (com.test.grumpy) on pci14e4,4331: stop raised "
                               "RuntimeError: still busy")


def test_a_driver_exiting_or_hanging_while_terminated_does_not_stop_termination() -> None:
    from hostkit import driven_watchdog

    calls: list[str] = []

    class Doomed(IOService):
        def will_terminate(self, provider: IOService, options: int) -> bool:
            calls.append("will_terminate")
            raise SystemExit(2)

        def did_terminate(self, provider: IOService, options: int) -> bool:
            calls.append("did_terminate")
            while True:  # waits for hardware that is gone
                clock.advance(0.01)

        def stop(self, provider: IOService) -> None:
            calls.append("stop")
            raise SystemExit("stop")

        def free(self) -> None:
            calls.append("free")

    bundle = kext("com.test.doomed", {"d": personality("Doomed", score=900)})
    host = make_host([wifi_nub()], [bundle], {"com.test.doomed": [Doomed]}).boot()
    clock = driven_watchdog(host)
    nub = host.find("pci14e4,4331")
    host.unplug(nub)
    assert calls == ["will_terminate", "did_terminate", "stop", "free"]
    assert host.find("pci14e4,4331") is None and nub.get_busy_state() == 0
    assert [d.reference for d in host.diagnostics] == [
        "driver-will-terminate-raised", "driver-call-timeout", "driver-stop-raised"]
    assert "did_terminate did not return within 5 s" in host.diagnostics[1].message


def test_a_terminate_from_inside_a_termination_waits_its_turn_instead_of_recursing() -> None:
    """Each driver's stop terminates the next nub: 300 terminations asked from inside one
    another. IOKit queues them on its terminate thread; here they are queued too and all done
    before the first terminate returns, with no RecursionError cutting a phase short."""
    count = 300

    class Domino(IOService):
        def stop(self, provider: IOService) -> None:
            index = int(provider.get_name().rsplit("-", 1)[1])
            if index + 1 < count:
                (following,) = [n for n in self.get_provider().get_provider().get_clients()
                                if n.get_name() == f"nub-{index + 1}"]
                following.terminate()

    nubs = [NubSpec("IOPCIDevice", name=f"nub-{i}", location=str(i)) for i in range(count)]
    bundle = kext("com.test.domino", {"d": personality("Domino")})
    host = make_host(nubs, [bundle], {"com.test.domino": [Domino]}).boot()
    first = host.find("nub-0")
    assert first is not None
    assert host.kernel.terminate(first)
    assert [host.find(f"nub-{i}") for i in range(count)] == [None] * count
    assert host.diagnostics == []
    assert host.registry.plane_root("IOService").get_busy_state() == 0
