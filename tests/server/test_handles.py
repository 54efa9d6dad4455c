"""A session's handles: one per object, counted references, bounded, never reused."""

from __future__ import annotations

import socket
import threading

from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, PROTOCOL_VERSION, FrameReader, pack
from kernelkit import KernelProcess

from iokit_host.server.handles import (
    DEFAULT_HANDLE_LIMIT,
    MAX_HANDLES_PER_USER,
    HandleTable,
    UserQuota,
)


def test_one_object_one_handle_with_counted_references() -> None:
    table = HandleTable()
    thing = object()
    first = table.add(thing)
    assert first is not None and table.add(thing) == first
    assert table.release(first) is None  # one reference left
    assert table.get(first, object) is thing
    assert table.release(first) is thing  # the last one: forgotten
    assert table.get(first, object) is None
    again = table.add(thing)
    assert again is not None and again != first  # names are never reused


def test_kind_checks_and_foreign_handles() -> None:
    table = HandleTable()
    handle = table.add("text")
    assert handle is not None
    assert table.get(handle, int) is None and table.get(handle, str) == "text"
    assert table.get(True, str) is None and table.get("1", str) is None
    assert table.release(12345) is None and not table.retain(12345)


def test_the_table_is_bounded() -> None:
    table = HandleTable(limit=2)
    assert table.add(object()) is not None and table.add(object()) is not None
    assert table.add(object()) is None
    assert len(table) == 2


def test_a_quota_bounds_the_tables_of_one_user_together_not_other_users() -> None:
    quota = UserQuota(limit=3)
    first, second = HandleTable(quota=quota, uid=501), HandleTable(quota=quota, uid=501)
    other = HandleTable(quota=quota, uid=502)
    held = [first.add(object()), first.add(object()), second.add(object())]
    assert None not in held and second.add(object()) is None
    assert "uid 501 hold 3 objects together" in second.full()
    assert other.add(object()) is not None  # another user's share is its own
    assert held[0] is not None and first.forget(held[0]) is not None
    assert second.add(object()) is not None  # room again


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(60)
    sock.connect(path)
    return sock


def _ask_all(sock: socket.socket, requests: list[dict[str, object]]
             ) -> list[dict[str, object]]:
    """Send ``requests`` at once (from a thread) and read their replies."""
    frames = b"".join(pack(request) for request in requests)
    sender = threading.Thread(target=sock.sendall, args=(frames,), daemon=True)
    sender.start()
    reader = FrameReader(MAX_KERNEL_FRAME)
    replies: list[dict[str, object]] = []
    while len(replies) < len(requests) and (data := sock.recv(1 << 16)):
        replies += reader.feed(data)
    sender.join(60)
    return replies


def test_the_connections_of_one_user_hold_a_bounded_number_of_objects_together(
        kernel: KernelProcess) -> None:
    """Each connection fills its table with notification ports it made: past
    MAX_HANDLES_PER_USER together the next one is refused kIOReturnNoResources, saying why
    (1024 connections held 67 million objects, tens of gigabytes of the kernel's memory),
    and it is made again once a connection closes."""
    hello = {"op": "hello", "id": 0, "protocol": "iokit", "version": PROTOCOL_VERSION}
    ports = [{"op": "port_create", "id": i} for i in range(1, DEFAULT_HANDLE_LIMIT + 1)]
    full = MAX_HANDLES_PER_USER // DEFAULT_HANDLE_LIMIT
    holders = [_connect(kernel.path) for _ in range(full)]
    try:
        for sock in holders:
            replies = _ask_all(sock, [hello, *ports])
            assert [r.get("ret") for r in replies] == [0] * (DEFAULT_HANDLE_LIMIT + 1)
        with _connect(kernel.path) as late:
            (_greeted, refused) = _ask_all(late, [hello, ports[0]])
            assert refused["ret"] == 0xE00002BE, kernel.stderr()[-2000:]  # NoResources
            assert "hold 262144 objects together" in str(refused["message"])
            holders.pop().close()
            (made,) = _ask_all(late, [ports[1]])  # its share came back with the close
            assert made["ret"] == 0, made
    finally:
        for sock in holders:
            sock.close()
    assert kernel.proc.poll() is None
