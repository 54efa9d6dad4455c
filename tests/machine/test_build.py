"""populate(): the model's nubs in a host's registry, as the platform expert would publish them."""

from __future__ import annotations

from types import SimpleNamespace

from iokit_sdk.service import IOResources, IOService, ServiceState

from iokit_host.machine import load_machine, parse_machine
from iokit_host.machine.build import populate
from iokit_host.matching.classes import ClassRegistry
from iokit_host.registry import IORegistry, from_path, get_path

MODEL = """
[machine]
name = "m"
planes = ["IOACPIPlane"]

[classes]
MyNub = "IOPCIDevice"

[[nub]]
id = "pe"
class = "IOPlatformExpertDevice"
name = "Mac"

[[nub]]
id = "expert"
parent = "pe"
class = "AppleACPIPlatformExpert"
recorded-driver = true

[[nub]]
id = "pci0"
parent = "expert"
class = "IOACPIPlatformDevice"
name = "PCI0"
location = "0"
planes = [{ plane = "IOACPIPlane", name = "PCI0", location = "0" }]

[[nub]]
parent = "pci0"
class = "MyNub"
name = "ARPT"
location = "1C,1"
planes = [{ plane = "IOACPIPlane", parent = "pci0", name = "WIFI", location = "1c0001" }]
[nub.properties]
vendor-id = { le32 = 0x14e4 }
"""


def fresh_host(kernel: object = None) -> SimpleNamespace:
    return SimpleNamespace(classes=ClassRegistry(), registry=IORegistry(), kernel=kernel)


def test_nubs_come_back_in_tree_order_without_recorded_drivers() -> None:
    host = fresh_host()
    nubs = populate(host, parse_machine(MODEL))
    assert [n.get_name() for n in nubs] == ["Mac", "PCI0", "ARPT", "IOResources"]
    assert all(n.get_state() == 0 for n in nubs)


def test_recorded_drivers_are_registered_and_matched() -> None:
    host = fresh_host()
    populate(host, parse_machine(MODEL))
    expert = from_path(host.registry, "IOService:/AppleACPIPlatformExpert")
    assert isinstance(expert, IOService)
    assert expert.get_state() == ServiceState.REGISTERED | ServiceState.MATCHED


def test_paths_classes_and_properties_are_the_models() -> None:
    host = fresh_host()
    populate(host, parse_machine(MODEL))
    arpt = from_path(host.registry, "IOService:/AppleACPIPlatformExpert/PCI0@0/ARPT@1c,1")
    assert arpt is not None
    assert arpt.meta_cast("IOPCIDevice") and arpt.class_name() == "MyNub"
    assert arpt.get_property("vendor-id") == b"\xe4\x14\x00\x00"
    assert host.registry.plane_root("IOService").get_name() == "Mac"


def test_extra_planes_carry_their_own_names_and_locations() -> None:
    host = fresh_host()
    populate(host, parse_machine(MODEL))
    wifi = from_path(host.registry, "IOACPIPlane:/WIFI@1c0001")
    assert wifi is not None and wifi.get_name() == "ARPT"
    assert get_path(host.registry, wifi, "IOACPIPlane") == "IOACPIPlane:/WIFI@1c0001"


def test_iokit_resources_sit_under_the_platform_device_beside_the_expert() -> None:
    host = fresh_host()
    populate(host, parse_machine(MODEL))
    root = host.registry.plane_root("IOService")
    resources = root.get_child_entries("IOService")[-1]
    assert isinstance(resources, IOResources)
    assert resources.get_property("IOKit") == "IOService"
    assert resources.get_property("IOBSD") == "IOService"


def test_a_model_with_its_own_resources_gets_no_second_one() -> None:
    host = fresh_host()
    populate(host, load_machine("default"))
    root = host.registry.plane_root("IOService")
    found = [c for c in root.get_child_entries("IOService") if isinstance(c, IOResources)]
    assert len(found) == 1 and found[0].get_property("IONVRAM") == "IOService"


def test_every_service_knows_the_hosts_kernel() -> None:
    kernel = object()
    host = fresh_host(kernel)
    populate(host, load_machine("default"))
    services = [e for _, e in host.registry.walk("IOService") if isinstance(e, IOService)]
    assert services and all(s._kernel is kernel for s in services)


def test_ids_follow_tree_order() -> None:
    host = fresh_host()
    nubs = populate(host, parse_machine(MODEL))
    ids = [n.get_registry_entry_id() for n in nubs]
    assert ids == sorted(ids)
