"""A registry snapshot rebuilt in a tool prints exactly as the kernel's own registry does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgpack
import pytest
from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader, pack
from iokit_sdk.values import MAX_VALUE_DEPTH, OSNumber

from iokit_host.host import IOKitHost
from iokit_host.ioreg import IoregOptions, render_archive, render_json, render_text
from iokit_host.server.snapshot import SnapshotError, row_of, take
from iokit_host.server.snapshot_rebuild import Rebuild, rebuild

OPTIONS = [IoregOptions(list_properties=True), IoregOptions(plane="IODeviceTree",
                                                            list_properties=True),
           IoregOptions(plane="IOPower"), IoregOptions(inheritance=True, hex_numbers=True),
           IoregOptions(class_name="IOPCIDevice", root=True, tree=True, list_properties=True)]


@pytest.fixture(scope="module")
def booted() -> IOKitHost:
    return IOKitHost().boot()


def _over_the_wire(snapshot: dict[str, Any]) -> dict[str, Any]:
    (message,) = FrameReader(MAX_KERNEL_FRAME).feed(pack({"snapshot": snapshot}))
    return message["snapshot"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("options", OPTIONS)
def test_a_rebuilt_registry_renders_like_the_original(booted: IOKitHost,
                                                      options: IoregOptions) -> None:
    copy = rebuild(_over_the_wire(take(booted.registry)))
    assert render_text(copy, options) == render_text(booted.registry, options)
    assert render_archive(copy, options) == render_archive(booted.registry, options)
    assert render_json(copy, options) == render_json(booted.registry, options)


def test_something_that_is_not_a_snapshot_is_refused() -> None:
    with pytest.raises(SnapshotError):
        rebuild({"planes": ["IOService"], "root": 1, "entries": [{"id": 1}]})
    with pytest.raises(SnapshotError):
        rebuild(msgpack.unpackb(msgpack.packb({"planes": 3})))


def _deep_snapshot_frame(request_id: int, depth: int) -> bytes:
    """A tool.registry reply whose root holds a property ``deep`` nested ``depth`` arrays
    deep: the bytes are written by hand (msgpack's packer stops at 512 levels), as a peer
    posing as a kernel may write them."""
    marker = "DEEP-VALUE-HERE"
    body = msgpack.packb({"id": request_id, "ret": 0, "generation": 1, "more": False,
                          "snapshot": {"planes": ["IOService"], "root": 1, "entries": [
                              [1, ["IORegistryEntry"], "Root", None, {"deep": marker}, {}, {},
                               None, None]]}})
    body = body.replace(msgpack.packb(marker), b"\x91" * depth + b"\x01")
    return len(body).to_bytes(4, "big") + body


def test_a_peer_serving_a_value_nested_1000_deep_is_refused_not_a_recursion_error(
        tmp_path: Path) -> None:
    """snapshot.rebuild restored properties from the socket unchecked, and format_value
    recurses: a peer posing as a kernel and serving a property nested 1,000 deep made
    ``iokit ioreg --kernel`` die with RecursionError. The rebuilt values are shape-checked
    (at most MAX_VALUE_DEPTH deep, as the SDK's checks keep a kernel's): the tool says what
    is wrong and exits 1."""
    import socket
    import threading

    from iokit_sdk.iokitlib.wire import PROTOCOL, PROTOCOL_VERSION
    from kernelkit import iokit, short_dir

    path = os.path.join(short_dir(), "fake.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)

    def serve() -> None:  # hello, then one tool.registry request
        conn, _ = server.accept()
        reader = FrameReader(MAX_KERNEL_FRAME)
        with conn:
            while (data := conn.recv(1 << 16)):
                for message in reader.feed(data):
                    if message["op"] == "hello":
                        conn.sendall(pack({"id": message["id"], "ret": 0, "protocol": PROTOCOL,
                                           "version": PROTOCOL_VERSION, "kernel_pid": 1,
                                           "client_pid": 2}))
                    else:
                        conn.sendall(_deep_snapshot_frame(message["id"], 1000))

    peer = threading.Thread(target=serve, daemon=True)
    peer.start()
    try:
        shown = iokit("ioreg", "-l", "--kernel", path)
    finally:
        server.close()
    assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
    assert "RecursionError" not in shown.stderr
    assert "kernel-reply-invalid" in shown.stderr
    assert "property 'deep'" in shown.stderr and f"at most {MAX_VALUE_DEPTH} deep" in shown.stderr


def test_a_value_at_the_sdk_s_depth_is_rebuilt_and_one_past_it_refused() -> None:
    def deep(depth: int) -> object:
        value: object = 1
        for _ in range(depth):
            value = [value]
        return value

    def snapshot(value: object) -> dict[str, object]:
        return {"planes": ["IOService"], "root": 1, "entries": [
            {"id": 1, "chain": ["IORegistryEntry"], "name": "Root", "location": None,
             "properties": {"deep": value}, "parents": {}, "children": {}}]}
    rebuilt = rebuild(snapshot(deep(MAX_VALUE_DEPTH)))
    assert render_text(rebuilt, IoregOptions(list_properties=True)).count("(") == MAX_VALUE_DEPTH
    with pytest.raises(SnapshotError, match="entry 1's property 'deep'"):
        rebuild(snapshot(deep(MAX_VALUE_DEPTH + 1)))


@pytest.mark.parametrize("parts", [2, 3, 7])
def test_a_snapshot_rebuilt_part_by_part_renders_like_the_whole(booted: IOKitHost,
                                                                parts: int) -> None:
    """A tool rebuilds each part as it comes (Rebuild): an entry whose children come in a
    later part is linked once they are made, so the registry prints as the whole one's."""
    whole = take(booted.registry)
    entries = _over_the_wire({"rows": [row_of(record) for record in whole["entries"]]})["rows"]
    assert isinstance(entries, list)
    size = -(-len(entries) // parts)
    rebuilding = Rebuild(whole)
    for start in range(0, len(entries), size):
        rebuilding.add(entries[start:start + size])
    copy = rebuilding.finish()
    for options in OPTIONS:
        assert render_text(copy, options) == render_text(booted.registry, options)


def test_a_rebuilt_entry_has_every_field_an_entry_of_its_class_has(booted: IOKitHost) -> None:
    """Rebuilt entries are made without their __init__ (ten thousand of them over a kernel):
    a field an entry class gains must be restored too, or printing one would fail."""
    copy = rebuild(_over_the_wire(take(booted.registry)))
    for entry in copy.entries():
        fields = {name for cls in type(entry).__mro__ for name in getattr(cls, "__slots__", ())
                  if name != "__weakref__"}
        assert fields and all(hasattr(entry, name) for name in fields), entry


def test_numbers_of_one_value_and_different_widths_keep_their_widths_over_the_wire() -> None:
    """A snapshot's numbers are packed and decoded once per value (the same vendor-id on
    thousands of entries): a 16-bit 5 and a 64-bit 5 are equal ints, and stay two numbers."""
    values = [OSNumber(5, 16), OSNumber(5, 64), OSNumber(5, 16), OSNumber(5, 8)]
    (message,) = FrameReader(MAX_KERNEL_FRAME).feed(pack({"values": values}))
    assert [(int(v), v.bits) for v in message["values"]] == [(5, 16), (5, 64), (5, 16), (5, 8)]
