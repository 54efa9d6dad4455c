"""IORegistry: planes, ids, multi-parent links and the walk order."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.service import IOService

from iokit_host.registry import REGISTRY_ID_RESERVED, IORegistry, RegistryError


def test_root_takes_the_first_id_and_standard_planes_exist() -> None:
    registry = IORegistry(planes=["IOUSB"])
    assert registry.root.get_registry_entry_id() == 0x100000100 == REGISTRY_ID_RESERVED + 1
    assert registry.root.get_name() == "Root"
    assert registry.planes == ("IOService", "IOPower", "IODeviceTree", "IOUSB")
    assert registry.root.get_property("IORegistryPlanes")["IOUSB"] == "IOUSB"


def test_ids_follow_first_attach_and_are_never_reused() -> None:
    registry = IORegistry()
    a, b, c = IOService(name="a"), IOService(name="b"), IOService(name="c")
    assert a.get_registry_entry_id() is None
    registry.attach(b, registry.root, "IOService")
    registry.attach(a, b, "IOService")
    registry.attach(a, registry.root, "IODeviceTree")  # a second attach keeps the id
    assert (b.get_registry_entry_id(), a.get_registry_entry_id()) == (0x100000101, 0x100000102)
    registry.detach_all(a)
    assert registry.entry_for_id(0x100000102) is None
    registry.attach(c, b, "IOService")
    assert c.get_registry_entry_id() == 0x100000103
    registry.attach(a, b, "IOService")  # re-attached: same id as before
    assert a.get_registry_entry_id() == 0x100000102


def test_multi_parent_links_keep_order_and_the_first_parent_is_the_provider() -> None:
    registry = IORegistry()
    p1, p2, child = IOService(name="p1"), IOService(name="p2"), IOService(name="child")
    for parent in (p1, p2):
        registry.attach(parent, registry.root, "IOService")
    registry.attach(child, p1, "IOService")
    registry.attach(child, p2, "IOService")
    registry.attach(child, p2, "IOService")  # idempotent
    assert child.get_parent_entries() == (p1, p2)
    assert child.get_provider() is p1
    assert p2.get_child_entries() == (child,)
    registry.detach(child, p1, "IOService")
    assert child.get_provider() is p2


def test_an_entry_is_in_a_plane_while_it_has_a_parent_or_a_child_there() -> None:
    registry = IORegistry()
    bus, nub, driver = IOService(name="bus"), IOService(name="nub"), IOService(name="driver")
    registry.attach(nub, registry.root, "IODeviceTree")
    registry.attach(bus, registry.root, "IOService")
    registry.attach(driver, nub, "IOService")  # nub joins IOService as a parent only
    assert nub.planes() == ("IODeviceTree", "IOService")
    assert nub.in_plane("IOService") and not driver.in_plane("IODeviceTree")
    assert (nub.get_child_entries(), driver.get_child_entries()) == ((driver,), ())
    registry.detach(driver, nub, "IOService")
    assert nub.planes() == ("IODeviceTree",)
    assert not nub.in_plane("IOService") and not driver.in_plane("IOService")
    assert driver.get_provider() is None and list(nub.iter_child_entries()) == []


def test_walk_is_depth_first_in_attach_order_and_repeats_shared_children() -> None:
    registry = IORegistry()
    a, b, shared = IORegistryEntry(name="a"), IORegistryEntry(name="b"), IORegistryEntry(name="s")
    registry.attach(a, registry.root, "IOService")
    registry.attach(b, registry.root, "IOService")
    registry.attach(shared, a, "IOService")
    registry.attach(shared, b, "IOService")
    walked = [(depth, entry.get_name()) for depth, entry in registry.walk("IOService")]
    assert walked == [(0, "Root"), (1, "a"), (2, "s"), (1, "b"), (2, "s")]
    assert registry.plane_root("IOService") is a
    assert registry.plane_root("IOPower") is None


def test_planes_are_separate() -> None:
    registry = IORegistry()
    entry = IORegistryEntry(name="e")
    registry.attach(entry, registry.root, "IODeviceTree")
    assert registry.root.get_child_entries("IOService") == ()
    assert entry.planes() == ("IODeviceTree",)


def test_bad_attachments_are_refused() -> None:
    registry = IORegistry()
    entry = IORegistryEntry()
    with pytest.raises(RegistryError) as caught:
        registry.attach(entry, registry.root, "IOBogus")
    assert "IOService" in (caught.value.diagnostic.hint or "")
    with pytest.raises(RegistryError):
        registry.attach(entry, entry, "IOService")
    with pytest.raises(RegistryError):
        registry.make_plane("")


def test_entry_detached_from_everything_and_attached_again_keeps_its_id() -> None:
    from iokit_sdk import IOService

    from iokit_host.registry import IORegistry

    registry = IORegistry()
    parent, child = IOService(), IOService()
    registry.attach(parent, registry.root, "IOService")
    registry.attach(child, parent, "IOService")
    first_id = child.get_registry_entry_id()
    registry.detach_all(child)
    assert registry.entry_for_id(first_id) is None
    registry.attach(child, parent, "IOService")
    assert child.get_registry_entry_id() == first_id
    assert registry.entry_for_id(first_id) is child


# -- a plane never loops: an attach that would close a loop is refused where it is made ------

def chain(registry: IORegistry, length: int, plane: str = "IOService") -> list[IOService]:
    entries = [IOService(name=f"e{i}") for i in range(length)]
    parent: IORegistryEntry = registry.root
    for entry in entries:
        registry.attach(entry, parent, plane)
        parent = entry
    return entries


@pytest.mark.parametrize(("child", "parent"), [(0, 1), (0, 4), (2, 3), (1, 4)])
def test_an_ancestor_cannot_be_attached_below_its_descendant(child: int, parent: int) -> None:
    registry = IORegistry()
    entries = chain(registry, 5)
    with pytest.raises(RegistryError) as caught:
        registry.attach(entries[child], entries[parent], "IOService")
    assert caught.value.ref == "registry-cycle"
    assert caught.value.diagnostic.hint
    assert entries[parent] not in entries[child].get_parent_entries("IOService")
    assert len(list(registry.walk("IOService"))) == 6  # the walk ends, over the tree as it was


def test_the_root_cannot_go_below_an_entry() -> None:
    registry = IORegistry()
    (entry,) = chain(registry, 1)
    with pytest.raises(RegistryError) as caught:
        registry.attach(registry.root, entry, "IOService")
    assert caught.value.ref == "registry-cycle"


def test_loops_are_judged_per_plane_and_across_second_parents() -> None:
    registry = IORegistry()
    a, b, c = chain(registry, 3)
    registry.attach(a, b, "IODeviceTree")  # another plane: no loop there
    side = IOService(name="side")
    registry.attach(side, registry.root, "IOService")
    registry.attach(c, side, "IOService")  # a second parent: a DAG, legal
    with pytest.raises(RegistryError):
        registry.attach(side, c, "IOService")  # through the second parent: a loop
    with pytest.raises(RegistryError):
        registry.attach(b, a, "IODeviceTree")


def test_attaching_new_leaves_under_a_deep_chain_stays_cheap() -> None:
    registry = IORegistry()
    entries = chain(registry, 20_000)
    assert entries[-1].get_parent_entry("IOService") is entries[-2]
    assert sum(1 for _ in registry.walk("IOService")) == 20_001


class _AttachesItsProviderBelowItself(IOService):
    def start(self, provider: IOService) -> bool:
        provider.attach(self)
        return True


def test_a_driver_closing_a_loop_fails_its_start_and_the_boot_goes_on() -> None:
    from hostkit import kext, make_host, personality, wifi_nub

    bundle = kext("com.test.loop", {"loop": personality("_AttachesItsProviderBelowItself",
                                                        score=1000)})
    host = make_host([wifi_nub()], [bundle],
                     {"com.test.loop": [_AttachesItsProviderBelowItself]}).boot()
    nub = host.find("pci14e4,4331")
    assert nub is not None
    assert host.drivers_of("pci14e4,4331") == []
    outcome = host.explain("pci14e4,4331").outcome_of("_AttachesItsProviderBelowItself")
    assert outcome is not None
    assert outcome.outcome == "start-failed"
    assert "registry-cycle" in outcome.reason
    assert nub.get_parent_entry("IOService") is host.registry.plane_root("IOService")
    # root, platform, nub, IOResources, and the kernel's IOPMrootDomain with its IORootParent
    assert sum(1 for _ in host.registry.walk("IOService")) == 6


def test_rooted_entries_are_forgotten_when_a_link_above_them_goes() -> None:
    # is_rooted remembers entries found linked up to the root, so that registering each nub
    # of a chain 100,000 deep is linear; a detach must make the memory stale.
    registry = IORegistry()
    chain = [IORegistryEntry(name=f"n{i}") for i in range(2000)]
    registry.attach(chain[0], registry.root, "IOService")
    for parent, child in itertools.pairwise(chain):
        registry.attach(child, parent, "IOService")
    assert all(registry.is_rooted(entry, "IOService") for entry in chain)
    registry.detach(chain[1000], chain[999], "IOService")
    assert registry.is_rooted(chain[999], "IOService")
    assert not registry.is_rooted(chain[1000], "IOService")
    assert not registry.is_rooted(chain[-1], "IOService")
    assert not registry.is_rooted(chain[-1], "IODeviceTree")
    registry.attach(chain[1000], chain[0], "IOService")
    assert registry.is_rooted(chain[-1], "IOService")


_MANY_PLANES = """
from iokit_sdk.entry import IORegistryEntry
from iokit_host.registry import IORegistry
planes = [f"P{number}" for number in range(100_000)]
registry = IORegistry(planes=planes)
entry = IORegistryEntry(name="e")
for plane in planes:
    registry.attach(entry, registry.root, plane)
assert len(registry.root.get_property("IORegistryPlanes")) == 100_003
print("built")
"""


def test_a_hundred_thousand_planes_build_in_linear_time() -> None:
    # Each plane rebuilt the root's IORegistryPlanes and each link searched a list of the
    # planes: this took hours (8,000 planes 1.9 s, 16,000 6.9 s); now a fraction of a second.
    done = subprocess.run([sys.executable, "-c", _MANY_PLANES], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.stdout == "built\n", done.stderr[-2000:]
