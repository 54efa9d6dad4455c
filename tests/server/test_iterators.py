"""Kernel-side iterators, in-process on a socket pair: a lookup is one object of the session
however many services it matched, handed over a batch at a time; reset starts it over on the
same services; release, and the session's end, let go of what it holds; what iterators hold is
bounded per user; the handles a request carries in ``release_first`` go before it is served."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from iokit_sdk import IOReturn
from iokit_sdk.iokitlib.wire import PROTOCOL_VERSION

from iokit_host.host import IOKitHost
from iokit_host.server.context import KernelContext
from iokit_host.server.handles import UserQuota
from iokit_host.server.registry_ops import forget_session
from iokit_host.server.requests import handle

from . import test_requests as requests

EVERY_SERVICE = {"IOProviderClass": "IOService"}


class Wire(requests.Wire):
    """A session (of a user sharing ``quota``) that said hello, whose replies this test reads
    back."""

    def __init__(self, ctx: KernelContext, quota: UserQuota | None = None) -> None:
        super().__init__(ctx, quota)
        handle(ctx, self.session, {"op": "hello", "id": 0, "protocol": "iokit",
                                   "version": PROTOCOL_VERSION})
        assert self.take()[0]["version"] == PROTOCOL_VERSION

    def services(self, handles: list[int]) -> list[object]:
        return [self.session.handles.objects[h] for h in handles]


@pytest.fixture
def ctx(uc_host: IOKitHost) -> KernelContext:
    return KernelContext.for_host(uc_host)


@pytest.fixture
def wire(ctx: KernelContext) -> Iterator[Wire]:
    connection = Wire(ctx)
    yield connection
    connection.close()


def test_a_lookup_is_one_object_handed_over_a_batch_at_a_time(ctx: KernelContext,
                                                              wire: Wire) -> None:
    every = ctx.host.kernel.copy_matching_services(EVERY_SERVICE)
    assert len(every) > 4
    first = wire.ask("get_matching", matching=EVERY_SERVICE, count=2)
    assert first["ret"] == IOReturn.SUCCESS and first["more"] is True
    assert len(wire.session.handles) == 3  # the iterator and the first batch
    taken = wire.services(first["objects"])
    more, last = True, first["objects"]
    while more:  # released as it goes: the session never holds more than a batch
        reply = wire.ask("iterator_next", iterator=first["iterator"], count=2, release=last)
        last, more = reply["objects"], reply["more"]
        taken += wire.services(last)
        assert len(wire.session.handles) <= 3
    assert taken == every
    end = wire.ask("iterator_next", iterator=first["iterator"])
    assert end["objects"] == [] and end["more"] is False


def test_reset_starts_over_on_the_same_services_though_the_registry_changed(
        ctx: KernelContext, wire: Wire) -> None:
    """IOKit's iterator runs over a set of its own: it stays valid and rewinds onto it."""
    first = wire.ask("get_matching", matching=EVERY_SERVICE, count=3)
    before = wire.services(first["objects"])
    ctx.host.unplug("SMC")  # the registry changes; the iterator's set does not
    again = wire.ask("iterator_reset", iterator=first["iterator"], count=3,
                     release=first["objects"])
    assert wire.services(again["objects"]) == before


def test_releasing_an_iterator_or_ending_the_session_lets_go_of_its_services(
        ctx: KernelContext) -> None:
    quota = UserQuota()
    wire = Wire(ctx, quota)
    uid = wire.session.peer.uid
    count = len(ctx.host.kernel.copy_matching_services(EVERY_SERVICE))
    one = wire.ask("get_matching", matching=EVERY_SERVICE, count=1)
    two = wire.ask("get_matching", matching=EVERY_SERVICE, count=1)
    assert quota.items[uid] == 2 * count
    assert wire.ask("release", objects=[one["iterator"]]) == {"ret": 0, "id": wire.ids}
    assert quota.items[uid] == count
    port = wire.ask("port_create")["port"]
    wire.ask("add_matching", port=port, type="IOServicePublish", matching=EVERY_SERVICE,
             count=1)
    assert quota.items[uid] == 2 * count
    forget_session(ctx, wire.session)  # what the front end does when the client goes
    assert quota.items[uid] == 0 and quota.held[uid] == 0
    assert two["more"] is True
    wire.close()


def test_what_one_users_iterators_hold_is_bounded(ctx: KernelContext) -> None:
    count = len(ctx.host.kernel.copy_matching_services(EVERY_SERVICE))
    quota = UserQuota(item_limit=2 * count)
    first, second = Wire(ctx, quota), Wire(ctx, quota)
    kept = first.ask("get_matching", matching=EVERY_SERVICE)
    assert second.ask("get_matching", matching=EVERY_SERVICE)["ret"] == IOReturn.SUCCESS
    refused = first.ask("get_matching", matching=EVERY_SERVICE)
    assert refused["ret"] == IOReturn.NO_RESOURCES
    assert "release them (IOObjectRelease)" in refused["message"]
    first.ask("release", objects=[kept["iterator"]])
    assert first.ask("get_matching", matching=EVERY_SERVICE)["ret"] == IOReturn.SUCCESS
    first.close()
    second.close()


def test_a_notifications_existing_services_are_drained_from_its_iterator(
        ctx: KernelContext, wire: Wire) -> None:
    every = ctx.host.kernel.copy_matching_services(EVERY_SERVICE)
    port = wire.ask("port_create")["port"]
    added = wire.ask("add_matching", port=port, type="IOServicePublish",
                     matching=EVERY_SERVICE, count=1)
    taken = wire.services(added["objects"])
    more = added["more"]
    while more:
        reply = wire.ask("iterator_next", iterator=added["notification"], count=2)
        taken += wire.services(reply["objects"])
        more = reply["more"]
    assert sorted(map(id, taken)) == sorted(map(id, every))
    # Drained, it does not rewind (IOUserNotification::reset does nothing).
    assert wire.ask("iterator_reset", iterator=added["notification"])["objects"] == []
    assert wire.session.handles.items == 0  # its list went once drained


def test_handles_a_request_carries_are_released_before_it_is_served(wire: Wire) -> None:
    """IOKitLib releases an iterator with its next request (no message of its own)."""
    found = wire.ask("get_matching", matching=EVERY_SERVICE, count=1)
    (service,) = found["objects"]
    again = wire.ask("iterator_next", iterator=found["iterator"],
                     release_first=[found["iterator"], service])
    assert again["ret"] == IOReturn.BAD_ARGUMENT  # the iterator went first
    assert wire.session.handles.items == 0 and len(wire.session.handles) == 0


def test_a_child_iterator_is_a_copy_of_the_children(wire: Wire) -> None:
    (root,) = wire.ask("get_matching", single=True,
                       matching={"IOProviderClass": "IOPlatformExpertDevice"})["objects"]
    first = wire.ask("children", object=root, plane="IOService", count=1)
    service = wire.session.handles.objects[root]
    children = list(service.get_child_entries("IOService"))  # type: ignore[attr-defined]
    assert len(children) > 1
    taken, reply = wire.services(first["objects"]), first
    while reply["more"]:
        reply = wire.ask("iterator_next", iterator=first["iterator"], count=1)
        taken += wire.services(reply["objects"])
    assert taken == children


def test_a_notification_refused_for_its_batch_size_installs_nothing(wire: Wire) -> None:
    """The program got no handle, so nothing may be left behind for it to release."""
    port = wire.ask("port_create")["port"]
    refused = wire.ask("add_matching", port=port, type="IOServicePublish",
                       matching=EVERY_SERVICE, count=0)
    assert refused["ret"] == IOReturn.BAD_ARGUMENT and "'count'" in refused["message"]
    assert len(wire.session.handles) == 1 and wire.session.handles.items == 0  # the port only


def test_an_unknown_op_still_releases_what_it_carries(wire: Wire) -> None:
    """``release_first`` is the client's deallocation, not the request's: an op this kernel
    does not serve is refused, and its handles go all the same (else they stayed held until
    the connection ended, the iterator's services charged to the user)."""
    found = wire.ask("get_matching", matching=EVERY_SERVICE, count=1)
    refused = wire.ask("iterator_rewind", iterator=found["iterator"],
                       release_first=[found["iterator"], *found["objects"]])
    assert refused["ret"] == IOReturn.UNSUPPORTED
    assert refused["message"] == "unknown op 'iterator_rewind'"
    assert len(wire.session.handles) == 0 and wire.session.handles.items == 0
