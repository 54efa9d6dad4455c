"""populate(): the model's nubs in a host's registry, as the platform expert would publish them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hostkit import kext, personality
from iokit_sdk.service import IOResources, IOService, ServiceState

from iokit_host.host import IOKitHost
from iokit_host.kext.bundle import KextBundle
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


# -- recorded drivers hold their match category ----------------------------------------------
XHCI_MODEL = """
[machine]
name = "xhci"

[[nub]]
id = "pe"
class = "IOPlatformExpertDevice"
name = "Mac"

[[nub]]
id = "xhc"
parent = "pe"
class = "IOPCIDevice"
name = "XHC1"
location = "14"
[nub.properties]
class-code = { data = "30030c00" }

[[nub]]
parent = "xhc"
class = "AppleUSBXHCIPCI"
recorded-driver = true
[nub.properties]
IOClass = "AppleUSBXHCIPCI"
IOProviderClass = "IOPCIDevice"
IOPCIClassMatch = "0x0c033000"
"""

XHCI_DUMP = """\
+-o Root  <class IORegistryEntry, id 0x100000100, retain 10>
  +-o Mac  <class IOPlatformExpertDevice, id 0x100000110, registered, matched, active, busy 0 (1 ms), retain 42>
    +-o XHC1@14  <class IOPCIDevice, id 0x100000138, registered, matched, active, busy 0 (7 ms), retain 9>
    | | {
    | |   "class-code" = <30030c00>
    | | }
    | | 
    | +-o AppleUSBXHCIPCI  <class AppleUSBXHCIPCI, id 0x1000001d9, registered, matched, active, busy 0 (7 ms), retain 39>
    |     {
    |       "IOClass" = "AppleUSBXHCIPCI"
    |       "IOProviderClass" = "IOPCIDevice"
    |       "IOPCIClassMatch" = "0x0c033000"
    |     }
    |     
    +-o IOResources  <class IOResources, id 0x100000112, registered, matched, active, busy 0 (0 ms), retain 30>
"""


def _generic_kext() -> KextBundle:
    return kext("com.example.iokit.PCIGeneric",
                {"IOPCIDeviceGeneric": personality("IOPCIDeviceGeneric", score=100)})


@pytest.mark.parametrize("source", ["model", "dump"])
def test_a_recorded_driver_without_a_category_holds_the_default_one(
        source: str, tmp_path: Path) -> None:
    path = tmp_path / ("xhci.toml" if source == "model" else "xhci.txt")
    path.write_text(XHCI_MODEL if source == "model" else XHCI_DUMP)
    host = IOKitHost(path, kexts=[_generic_kext()]).boot()
    (driver,) = host.drivers_of("XHC1")
    assert driver.iokit_class_name == "AppleUSBXHCIPCI"
    assert driver.get_property("IOMatchCategory") == "IODefaultMatchCategory"
    fate = host.explain("XHC1").outcome_of("IOPCIDeviceGeneric")
    assert fate is not None and fate.outcome == "category-taken"
    assert "AppleUSBXHCIPCI" in fate.reason


# -- models made in code skip the file's checks; the registry's own refusals become model errors

def test_a_root_that_is_not_an_ioservice_is_a_model_error_not_a_crash() -> None:
    from iokit_host.machine import MachineModel, NubSpec
    from iokit_host.machine.errors import MachineModelError

    model = MachineModel("m", "", NubSpec("IORegistryEntry"), source="m.toml")
    with pytest.raises(MachineModelError) as caught:
        IOKitHost(model, kexts=[]).boot()
    assert caught.value.ref == "machine-model-root-not-service"
    assert caught.value.diagnostic.file == "m.toml"


def test_a_link_under_a_nubs_own_child_is_a_model_error() -> None:
    from iokit_host.machine import MachineModel, NubSpec, PlaneLink
    from iokit_host.machine.errors import MachineModelError

    child = NubSpec("IOService", name="child", id="child")
    looped = NubSpec("IOService", name="looped", id="looped", children=(child,),
                     planes=(PlaneLink("IOService", "child"),))
    model = MachineModel("m", "", NubSpec("IOPlatformExpertDevice", children=(looped,)),
                         source="m.toml")
    with pytest.raises(MachineModelError) as caught:
        populate(fresh_host(), model)
    assert caught.value.ref == "machine-model-structure"
    assert "loop" in caught.value.diagnostic.message


def test_a_value_no_registry_holds_is_a_model_error() -> None:
    from iokit_host.machine import MachineModel, NubSpec
    from iokit_host.machine.errors import MachineModelError

    deep: list[object] = []
    for _ in range(2000):
        deep = [deep]
    model = MachineModel("m", "", NubSpec("IOPlatformExpertDevice", properties={"d": deep}))
    with pytest.raises(MachineModelError) as caught:
        populate(fresh_host(), model)
    assert caught.value.ref == "machine-model-bad-value"
    assert "129 deep" in caught.value.diagnostic.message


# Registering a nub checks it is still in the registry by walking up to the root
# (kernel.lifecycle.is_registry_member); the registry remembers rooted entries, so a chain
# registers in linear time (it was quadratic: 20,000 deep took a minute).
@pytest.mark.parametrize("depth", [1000, 5000])
def test_a_machine_thousands_deep_boots(depth: int) -> None:
    from iokit_host.machine import MachineModel, NubSpec

    nub = NubSpec("IOService", name=f"n{depth}")
    for level in range(depth - 1, 0, -1):
        nub = NubSpec("IOService", name=f"n{level}", children=(nub,))
    host = IOKitHost(MachineModel("deep", "", NubSpec("IOPlatformExpertDevice",
                                                      children=(nub,))), kexts=[]).boot()
    deepest = max(host.registry.walk("IOService"), key=lambda pair: pair[0])
    assert deepest[1].get_name() == f"n{depth}"
    assert isinstance(deepest[1], IOService)
    assert deepest[1].get_state() & ServiceState.REGISTERED


def test_a_record_of_a_class_the_host_implements_with_its_own_constructor_still_builds() -> None:
    # A dump records the root domain's user client; the host's own RootDomainUserClient takes
    # its owner. The record is a snapshot, so a plain entry of that name stands in for it.
    model = parse_machine("""
[[nub]]
id = "root"
class = "IOPlatformExpertDevice"
name = "Mac"

[[nub]]
parent = "root"
class = "RootDomainUserClient"
recorded-driver = true
[nub.properties]
IOUserClientCreator = "pid 1, launchd"
""")
    host = IOKitHost(model, kexts=[]).boot()
    entry = host.find("RootDomainUserClient")
    assert entry is not None and entry.iokit_class_name == "RootDomainUserClient"
    assert entry.get_property("IOUserClientCreator") == "pid 1, launchd"


def test_a_nub_eleven_thousand_deep_registers_and_matches() -> None:
    chain = "\n".join(f"""
[[nub]]
id = "n{i}"
parent = "{'root' if i == 0 else f'n{i - 1}'}"
class = "IOService"
name = "n{i}"
""" for i in range(11_000))
    model = parse_machine(f"""
[[nub]]
id = "root"
class = "IOPlatformExpertDevice"
name = "Mac"
{chain}
""")
    host = IOKitHost(model, kexts=[]).boot()
    deepest = host.find("n10999")
    assert deepest is not None and deepest.get_state() & ServiceState.REGISTERED
