"""Issue 11's done-when on sleep and wake order, read off the IOPower plane itself: on the default
machine (with whatever sample drivers are installed) and on a real Mac's dump, every power
child's ``set_power_state`` for sleep comes before its power parent's, and on wake after it."""

from __future__ import annotations

from pathlib import Path

from iokit_host.host import IOKitHost
from iokit_host.power.rootdomain import IOPMrootDomain

IMAC_DUMP = "ioreg/khronokernel__DarwinDumped__iMac_iMac13_2_IORegDump_IOReg.txt"


def _calls(host: IOKitHost, start: int, to_zero: bool) -> dict[int, int]:
    """Service id -> position of its set_power_state call after log event ``start``."""
    # by path (a name may hold a "/", so paths are matched, not parsed)
    ids = {host.path_of(pm.service): id(pm.service) for pm in host.power.managed()}
    order: dict[int, int] = {}
    for index, event in enumerate(host.power.log.events()[start:]):
        if event.kind == "set-power-state" and (event.to_state == 0) == to_zero:
            order.setdefault(ids[event.path], index)
    return order


def _links(host: IOKitHost) -> list[tuple[int, int]]:
    """(parent id, child id) for every power link between two devices."""
    return [(id(link.parent_pm.service), id(pm.service)) for pm in host.power.managed()
            for link in pm.parents
            if link.parent_pm is not None and not isinstance(link.parent_pm.service,
                                                             IOPMrootDomain)]


def _assert_order(host: IOKitHost) -> None:
    links = _links(host)
    assert links, "no power link between two devices"
    devices = [pm for pm in host.power.managed() if not isinstance(pm.service, IOPMrootDomain)]
    powered = {id(pm.service) for pm in devices if pm.current}  # a dump records some at 0
    before = len(host.power.log.events())
    assert host.sleep().result == "asleep"
    down = _calls(host, before, to_zero=True)
    middle = len(host.power.log.events())
    assert host.wake().result == "awake"
    up = _calls(host, middle, to_zero=False)
    for parent, child in links:
        if child in down:
            assert parent in down and down[child] < down[parent]
        if child in up:
            assert parent in up and up[parent] < up[child]
    assert set(down) == powered, "a powered device did not drop"  # the root domain: SLEEP
    root = id(host.power.root_domain)
    assert set(up) - {root} == powered, "a device did not come back"
    assert min(up, key=up.__getitem__) == root  # the root domain first
    assert host.power.log.unfinished() == 0


def test_sleep_drops_children_first_and_wake_raises_parents_first_on_the_default_machine(
        ) -> None:
    host = IOKitHost().boot()
    _assert_order(host)


def test_the_same_order_holds_on_a_real_macs_tree(corpus: Path) -> None:
    host = IOKitHost(corpus / IMAC_DUMP, kexts=[]).boot()
    assert len(host.power.managed()) > 50
    _assert_order(host)
