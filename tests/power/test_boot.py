"""Power management at boot: IOPMrootDomain published once, under the platform expert with
IORootParent above it in the IOPower plane, and what a machine recorded adopted."""

from __future__ import annotations

from iokit_host.host import IOKitHost
from iokit_host.power.rootdomain import ON_STATE


def test_the_root_domain_sits_under_the_platform_expert_with_its_root_parent() -> None:
    host = IOKitHost(kexts=[]).boot()  # the default machine alone: AppleACPIPlatformExpert drives the root
    root = host.power.root_domain
    assert root is not None
    assert host.path_of(root) == "IOService:/AppleACPIPlatformExpert/IOPMrootDomain"
    assert [c.iokit_class_name for c in root.get_clients()] == ["IORootParent"]
    assert root.get_property("IOPowerManagement") == {
        "DevicePowerState": ON_STATE, "ChildrenPowerState": ON_STATE, "CurrentPowerState": 4,
        "CapabilityFlags": 2, "MaxPowerState": 4}
    top = host.registry.plane_root("IOPower")
    assert top is not None and top.iokit_class_name == "IORootParent"
    connection = top.get_child_entries("IOPower")[0]
    assert connection.iokit_class_name == "IOPowerConnection"
    assert connection.get_child_entries("IOPower") == (root,)
    # the kernel's own service, not counted among the machine's nubs
    assert host.summary().nubs == 46  # the model's 45 nubs and IOResources


def test_publishing_again_keeps_the_one_root_domain_and_adopting_again_adopts_nothing() -> None:
    host = IOKitHost(kexts=[]).boot()
    root = host.power.root_domain
    entries = len(list(host.registry.entries()))
    assert host.power.publish_root_domain() is root
    assert host.power.adopt_recorded() == 0  # every recorded entry has its block already
    assert len(list(host.registry.entries())) == entries
    top = host.registry.plane_root("IOPower")
    assert top is not None and len(top.get_child_entries("IOPower")) == 1
