"""The IOPower plane: where join_pm_tree puts a driver, the IOPowerConnection links ioreg shows,
and leaving the tree on termination (with kIOMessageServiceIsTerminated to the clients)."""

from __future__ import annotations

from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk import IOService
from iokit_sdk.keys import POWER_PLANE
from iokit_sdk.messages import kIOMessageServiceIsTerminated
from powerkit import THREE, PMDevice, PowerJournal, add_device, events, power_host


def _power_parent(service: IOService) -> IOService | None:
    connection = service.get_parent_entry(POWER_PLANE)
    assert connection is not None and connection.iokit_class_name == "IOPowerConnection"
    parent = connection.get_parent_entry(POWER_PLANE)
    assert parent is None or isinstance(parent, IOService)
    return parent


def test_a_driver_joins_its_power_managed_provider_through_an_iopowerconnection() -> None:
    host = power_host()
    parent = add_device(host, None, "P")
    child = add_device(host, parent, "C")
    assert _power_parent(child) is parent
    (connection,) = parent.get_child_entries(POWER_PLANE)
    assert connection.get_child_entries(POWER_PLANE) == (child,)


def test_a_join_skips_providers_that_are_not_power_managed() -> None:
    host = power_host()
    grandparent = add_device(host, None, "G")
    plain = IOService(name="NotPM")
    assert host.kernel.attach(plain, grandparent)
    child = add_device(host, plain, "C")
    assert _power_parent(child) is grandparent
    orphan = add_device(host, None, "Top")  # under the platform root: nobody is managed
    assert _power_parent(orphan) is host.power.root_domain


def test_a_join_that_would_loop_is_reported_not_made() -> None:
    host = power_host()
    top = PMDevice(name="N")
    assert host.kernel.attach(top, host.registry.plane_root("IOService"))  # type: ignore[arg-type]
    top.pm_init()  # power managed, not in the tree yet
    below = add_device(host, top, "M")
    assert _power_parent(below) is top
    below.join_pm_tree(top)  # N under M: but M is already below N
    assert any(d.reference == "power-tree-cycle" for d in host.diagnostics)
    assert top.get_parent_entry(POWER_PLANE) is None
    itself = PMDevice(name="G")
    assert host.kernel.attach(itself, below)
    itself.pm_init()
    itself.join_pm_tree(itself)  # called on itself: it joins the nearest managed provider above
    assert _power_parent(itself) is below
    assert host.sleep().result == "asleep"


def test_termination_takes_a_service_out_of_the_power_tree_and_messages_its_clients() -> None:
    journal = PowerJournal()

    class Client(PMDevice):
        pass

    bundle = kext("com.test.tree", {"c": personality("Client")})
    host = make_host([wifi_nub()], [bundle], {"com.test.tree": [Client]})
    host.boot()
    nub = host.find("pci14e4,4331")
    assert nub is not None
    (client,) = host.drivers_of(nub)
    assert isinstance(client, Client)
    client.journal = journal
    nub.pm_init()  # the nub is power managed too: the driver joins it
    provider = nub.get_provider()
    assert provider is not None
    provider.join_pm_tree(nub)
    nub.register_power_driver(nub, (THREE[0], THREE[2]))
    client.pm_init()
    nub.join_pm_tree(client)
    client.register_power_driver(client, THREE)
    host.power.run_until_idle()
    assert _power_parent(client) is nub and client.get_power_state() == 2
    assert nub.get_property("IOPowerManagement")["ChildrenPowerState"] == 1
    host.unplug(nub)
    assert ("message", "Client", kIOMessageServiceIsTerminated, "pci14e4,4331") in journal.calls
    assert host.power.pm_of(client) is None and host.power.pm_of(nub) is None
    assert not client.in_plane(POWER_PLANE) and not nub.in_plane(POWER_PLANE)
    assert "IOPowerManagement" not in client.properties
    # the log still names them by the paths they had
    assert any(e.path and e.path.endswith("/Client") for e in events(host, "set-power-state"))
    assert host.sleep().result == "asleep" and host.wake().result == "awake"


def test_a_parent_follows_when_its_child_leaves_the_tree() -> None:
    host = power_host()
    parent = add_device(host, None, "P", want=0)
    child = add_device(host, parent, "C")
    assert parent.get_power_state() == 1
    host.unplug(child)
    host.power.run_until_idle()
    assert parent.get_power_state() == 0


def test_is_terminated_reaches_each_client_before_its_did_terminate_bottom_up() -> None:
    calls: list[tuple[str, str]] = []

    class Recorder(IOService):
        def message(self, message_type: int, provider: IOService | None,
                    argument: object = None) -> int:
            if message_type == kIOMessageServiceIsTerminated and provider is not None:
                calls.append(("terminated", f"{self.get_name()}<-{provider.get_name()}"))
            return 0

        def did_terminate(self, provider: IOService, options: int) -> bool:
            calls.append(("did_terminate", f"{self.get_name()}<-{provider.get_name()}"))
            return True

    class Top(Recorder):
        def start(self, provider: IOService) -> bool:
            nub = IOService({"role": "child"}, name="N")
            nub.attach(self)
            nub.register_service()
            return True

    class Leaf(Recorder):
        pass

    bundle = kext("com.test.msg", {
        "top": personality("Top"),
        "leaf": personality("Leaf", provider="IOService", IOPropertyMatch={"role": "child"})})
    host = make_host([wifi_nub()], [bundle], {"com.test.msg": [Top, Leaf]})
    host.boot()
    host.unplug("pci14e4,4331")
    # N (Top's nub) is a plain IOService: its message and did_terminate are IOService's
    assert calls == [("terminated", "Leaf<-N"), ("did_terminate", "Leaf<-N"),
                     ("terminated", "Top<-pci14e4,4331"), ("did_terminate", "Top<-pci14e4,4331")]
