"""Requests handed to the kernel one at a time: the handshake, IOReturns for bad requests, and
replies that always encode (in-process, on a socket pair)."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from iokit_sdk import IOReturn, IOService
from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, PROTOCOL_VERSION, FrameReader

from iokit_host.host import IOKitHost
from iokit_host.server.args import MAX_MATCHING_CHOICES
from iokit_host.server.context import KernelContext
from iokit_host.server.handles import UserQuota
from iokit_host.server.peer import peer_of
from iokit_host.server.requests import handle
from iokit_host.server.session import Session
from iokit_host.server.snapshot_rebuild import rebuild


class Wire:
    """A session (of a user sharing ``quota``) whose replies this test reads back."""

    def __init__(self, ctx: KernelContext, quota: UserQuota | None = None) -> None:
        self.ctx = ctx
        self.kernel_end, self.client_end = socket.socketpair()
        self.kernel_end.setblocking(False)  # as the front end's: a large reply never blocks
        peer = peer_of(self.kernel_end)
        self.session = Session(self.kernel_end, peer, peer.task(ctx.policy), quota=quota)
        self.reader = FrameReader(MAX_KERNEL_FRAME)
        self.ids = 0

    def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        self.ids += 1
        handle(self.ctx, self.session, {"op": op, "id": self.ids, **fields})
        return self.take()[-1]

    def take(self) -> list[dict[str, Any]]:
        self.session.outbox.send(self.kernel_end)
        self.client_end.settimeout(5)
        return self.reader.feed(self.client_end.recv(1 << 24))

    def close(self) -> None:
        self.kernel_end.close()
        self.client_end.close()


@pytest.fixture
def wire(uc_host: IOKitHost) -> Iterator[Wire]:
    ctx = KernelContext.for_host(uc_host)
    connection = Wire(ctx)
    handle(ctx, connection.session, {"op": "hello", "id": 0, "protocol": "iokit",
                                     "version": PROTOCOL_VERSION})
    assert connection.take()[0]["version"] == PROTOCOL_VERSION
    yield connection
    connection.close()


def test_a_request_before_hello_or_of_another_version_is_fatal(uc_host: IOKitHost) -> None:
    ctx = KernelContext.for_host(uc_host)
    early = Wire(ctx)
    handle(ctx, early.session, {"op": "get_matching", "id": 1})
    assert early.take()[0]["fatal"] == "hello-expected" and early.session.closing
    other = Wire(ctx)
    handle(ctx, other.session, {"op": "hello", "id": 0, "protocol": "iokit", "version": 9})
    assert other.take()[0]["fatal"] == "protocol-version-mismatch"
    # The connection's log, which the front end prints; not the host's diagnostics, which
    # tools list: a flood of mismatched clients must not grow them.
    assert ctx.log[-1].reference == "protocol-version-mismatch"
    assert not any(d.reference == "protocol-version-mismatch" for d in uc_host.diagnostics)
    early.close()
    other.close()


def test_bad_fields_are_bad_argument_and_unknown_ops_unsupported(wire: Wire) -> None:
    assert wire.ask("warp")["ret"] == IOReturn.UNSUPPORTED
    assert wire.ask("class", object=12345)["ret"] == IOReturn.BAD_ARGUMENT
    assert wire.ask("get_matching", matching={"IOProviderClass": 1.5})["ret"] == \
        IOReturn.BAD_ARGUMENT
    assert wire.ask("call", connect="x")["ret"] == IOReturn.BAD_ARGUMENT
    assert wire.ask("add_matching", port=0, type="IOServiceSoon", matching={})["ret"] == \
        IOReturn.BAD_ARGUMENT  # the port is checked first
    handle(wire.ctx, wire.session, {"op": "class", "id": "one"})
    assert wire.take()[-1]["fatal"] == "request-malformed"


def test_a_matching_dictionary_offers_a_bounded_number_of_alternatives(wire: Wire) -> None:
    """Each array item of a matching dictionary is tried against every service: 200,000
    IONameMatch names held the kernel 12 s over 60 services (hours over 20,000)."""
    names = [f"n{i}" for i in range(MAX_MATCHING_CHOICES - 1)]
    fits = {"IONameMatch": names, "IOParentMatch": {"IONameMatch": ["SMC"]}}
    assert wire.ask("get_matching", matching=fits)["objects"] == []
    too_many = {**fits, "IOPropertyMatch": [{"a": 1}, {"b": 2}]}
    refused = wire.ask("get_matching", matching=too_many)
    assert refused["ret"] == IOReturn.BAD_ARGUMENT
    assert f"at most {MAX_MATCHING_CHOICES}" in refused["message"]
    port = wire.ask("port_create")["port"]
    assert wire.ask("add_matching", port=port, type="IOServiceFirstPublish",
                    matching=too_many)["ret"] == IOReturn.BAD_ARGUMENT


def test_what_a_client_sent_is_quoted_short_in_replies_and_the_log(uc_host: IOKitHost,
                                                                     wire: Wire) -> None:
    huge = "x" * 1_000_000
    assert len(wire.ask(huge)["message"]) < 200  # "unknown op 'xxx...'"
    (entry,) = wire.ask("get_matching", single=True,
                        matching={"IOProviderClass": "IOService"})["objects"]
    refused = wire.ask("parent", object=entry, plane=huge)
    assert refused["ret"] == IOReturn.BAD_ARGUMENT and len(refused["message"]) < 200
    ctx = KernelContext.for_host(uc_host)
    other = Wire(ctx)
    handle(ctx, other.session, {"op": "hello", "id": 0, "protocol": huge, "version": huge})
    assert other.take()[0]["fatal"] == "protocol-version-mismatch"
    assert len(str(ctx.log[-1])) < 600  # the kernel's log line, not a megabyte of it
    other.close()


def test_lookups_return_handles_counted_per_session(wire: Wire, driver: IOService) -> None:
    (first,) = wire.ask("get_matching", matching={"IOProviderClass": "TestUCDriver"},
                        single=True)["objects"]
    (again,) = wire.ask("get_matching", matching={"IOProviderClass": "TestUCDriver"},
                        single=True)["objects"]
    assert first == again and wire.session.handles.get(first, IOService) is driver
    assert wire.ask("class", object=first)["class"] == "TestUCDriver"
    parent = wire.ask("parent", object=first, plane="IOService")["object"]
    assert wire.ask("name", object=parent, plane=None)["name"] == "SMC"
    assert wire.ask("parent", object=parent, plane="IOPower")["ret"] == IOReturn.NO_DEVICE
    wire.ask("release", objects=[first, first])
    assert wire.ask("class", object=first)["ret"] == IOReturn.BAD_ARGUMENT


def test_a_property_past_64_bits_does_not_break_the_reply(wire: Wire, driver: IOService) -> None:
    driver.set_property("Huge", 1 << 70)
    reply = wire.ask("tool.registry")
    assert reply["ret"] == IOReturn.SUCCESS
    registry = rebuild(reply["snapshot"])
    (copy,) = [e for e in registry.entries() if e.get_property("Huge") is not None]
    assert copy.get_property("Huge") == (1 << 70) & ((1 << 64) - 1)


def test_a_damaged_event_is_reported_and_the_others_apply(wire: Wire) -> None:
    # The scenario's own reader checks each table, as `iokit boot --events` does.
    reply = wire.ask("tool.events", source="events.toml",
                     events=[{"action": "publish", "resource": "Radio"},
                             {"action": "plug", "parent": "SMC"}])
    assert reply["lines"] == ["[t=0ns] published Radio: started nothing"]
    (damaged,) = reply["diagnostics"]
    assert (damaged["reference"], damaged["file"], damaged["key"]) == (
        "scenario-invalid", "events.toml", "event[1].nub")


def test_power_events_apply_to_the_running_kernel(wire: Wire) -> None:
    reply = wire.ask("tool.events", events=[{"action": "sleep"}, {"action": "wake"}])
    assert len(reply["lines"]) == 2 and reply["diagnostics"] == []
    assert "sleep" in reply["lines"][0] and "wake" in reply["lines"][1]


def test_a_method_dropping_the_standard_streams_has_them_put_back_and_is_named(
        wire: Wire, uc_host: IOKitHost, test_kext: Any) -> None:
    """A request runs driver code outside the work loop's jobs; it is checked as a job is,
    so the kernel's output survives a driver's ``sys.stdout = None``, and the driver is
    named (it ended in a traceback at the kernel's exit)."""
    (service,) = wire.ask("get_matching", matching={"IOProviderClass": "TestUCDriver"},
                          single=True)["objects"]
    connect = wire.ask("open", service=service, type=0)["connect"]
    kept = sys.stdout, sys.stderr
    try:
        reply = wire.ask("call", connect=connect, selector=10, scalars=[test_kext.UNPLUG],
                         struct=b"", scalar_out=0, struct_out=0)
        restored = sys.stdout, sys.stderr
    finally:
        sys.stdout, sys.stderr = kept
    assert reply["ret"] == IOReturn.SUCCESS
    assert restored[0] is kept[0] and restored[1] is kept[1]
    (found,) = [d for d in uc_host.diagnostics if d.reference == "driver-changed-host"]
    assert found.subject == "TestUserClient"
    assert found.message.startswith("driver code run in TestUserClient ")
    assert "while serving a client's call request" in found.message
    assert "(sys.stdout, sys.stderr)" in found.message
