"""A session's outbox: replies kept in order, notifications bounded, drops counted and told."""

from __future__ import annotations

import os
import socket

import pytest
from iokit_sdk.iokitlib.wire import (
    MAX_KERNEL_FRAME,
    MAX_REQUEST_FRAME,
    PROTOCOL_VERSION,
    FrameError,
    FrameReader,
    pack,
)
from kernelkit import KernelProcess, begin_large_frames, send_all

from iokit_host.server.session import Outbox


def _drain(outbox: Outbox) -> list[dict[str, object]]:
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        reader = FrameReader(MAX_KERNEL_FRAME)
        messages: list[dict[str, object]] = []
        while outbox.has_data():
            outbox.send(left)
            right.settimeout(5)
            messages.extend(reader.feed(right.recv(1 << 20)))
        return messages


def test_notifications_past_the_bound_are_dropped_counted_and_announced() -> None:
    outbox = Outbox(note_limit=3)
    outbox.reply(pack({"id": 1, "ret": 0}))
    sent = [outbox.note(7, pack({"port": 7, "kind": "async", "n": n})) for n in range(5)]
    assert sent == [True, True, True, False, False]
    messages = _drain(outbox)
    assert messages[0] == {"id": 1, "ret": 0}  # replies first, never dropped
    assert [m.get("n") for m in messages[1:4]] == [0, 1, 2]  # the oldest kept, in order
    assert messages[4] == {"port": 7, "kind": "dropped", "count": 2}
    assert not outbox.has_data()


def test_a_socket_that_takes_nothing_never_blocks_the_writer() -> None:
    outbox = Outbox()
    for n in range(20000):
        outbox.reply(pack({"id": n, "ret": 0, "pad": b"x" * 100}))
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        outbox.send(left)  # fills the socket buffer and returns; nobody reads
        assert outbox.has_data() and outbox.backlog > 0


def test_a_reply_passes_its_descriptors_in_order_and_closes_the_outbox_s_copies() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"the driver's memory")
    outbox = Outbox()
    outbox.reply(pack({"id": 1, "ret": 0}))
    outbox.reply(pack({"id": 2, "ret": 0, "size": 19}), [read_end])
    outbox.reply(pack({"id": 3, "ret": 0}))
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        outbox.send(left)
        assert not outbox.has_data()
        with pytest.raises(OSError):
            os.fstat(read_end)  # the outbox's copy is closed once it is the peer's
        reader, messages, passed = FrameReader(MAX_KERNEL_FRAME), [], []
        while len(messages) < 3:
            data, fds, _flags, _address = socket.recv_fds(right, 1 << 16, 4)
            messages.extend(reader.feed(data))
            passed.extend(fds)
    assert [m["id"] for m in messages] == [1, 2, 3]
    assert len(passed) == 1
    assert os.read(passed[0], 64) == b"the driver's memory"
    os.close(passed[0])
    os.close(write_end)


def test_descriptors_never_sent_are_closed_when_the_session_ends() -> None:
    read_end, write_end = os.pipe()
    outbox = Outbox()
    outbox.reply(pack({"id": 1, "ret": 0}), [read_end])
    outbox.discard()
    with pytest.raises(OSError):
        os.fstat(read_end)
    os.close(write_end)


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    """The process's resident memory (``VmHWM``: its peak so far) in KiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise AssertionError(f"no {field}")


def _empty_maps(size: int) -> bytes:
    """The frame of a request padded with an array of empty maps, ``size`` bytes in all: a
    msgpack body that builds some 70 times its size in objects."""
    head = b"\x83\xa2op\xa3nop\xa2id\x01\xa1x\xdd"
    count = size - 4 - len(head) - 4
    body = head + count.to_bytes(4, "big") + b"\x80" * count
    return len(body).to_bytes(4, "big") + body


def test_a_large_frame_is_decoded_when_served_and_a_bad_one_ends_the_session_there() -> None:
    from iokit_host.server.session import INBOX_BYTES_LIMIT, Deferred, RequestReader

    reader = RequestReader()
    small = pack({"op": "nop", "id": 1})
    large = _empty_maps(1 << 20)
    bad = (1 << 17).to_bytes(4, "big") + bytes(1 << 17)  # a 0, then what follows it
    first, second, third = reader.feed(small + large + bad)
    assert first == {"op": "nop", "id": 1} and type(second) is Deferred
    assert reader.deferred_bytes == (1 << 20) - 4 + (1 << 17)
    taken = reader.take(second)
    assert taken["op"] == "nop" and len(taken["x"]) > 1_000_000
    assert reader.deferred_bytes == 1 << 17
    with pytest.raises(FrameError) as refused:
        reader.take(third)
    assert refused.value.reference == "frame-malformed"
    assert INBOX_BYTES_LIMIT <= 16 << 20


def test_large_requests_arriving_together_are_built_one_at_a_time(
        kernel: KernelProcess) -> None:
    """Sixteen clients each send a 4 MiB request of empty maps at once: decoded as they
    arrived, they waited in the inboxes together and the kernel grew by 1.8 GB; decoded
    when served, one is built at a time (~300 MB) and freed before the next."""

    from iokit_sdk.iokitlib import MainPort

    hello = pack({"op": "hello", "id": 0, "protocol": "iokit", "version": PROTOCOL_VERSION})
    frame = _empty_maps(MAX_REQUEST_FRAME)
    before = _rss_kib(kernel.pid)
    socks = [socket.socket(socket.AF_UNIX) for _ in range(16)]
    try:
        unsent = {}
        for sock in socks:
            sock.connect(kernel.path)
            sock.setblocking(False)
            unsent[sock] = hello + frame
        assert send_all(unsent, 30.0), kernel.stderr()[-2000:]
        with MainPort(kernel.path) as witness:  # served after the sixteen, in order
            assert witness.request("no-such-op")["ret"] == 0xE00002C7
        for sock in socks:
            sock.settimeout(60)
            replies = FrameReader(MAX_KERNEL_FRAME)
            got: list[dict[str, object]] = []
            while len(got) < 2:
                got += replies.feed(sock.recv(1 << 16))
            assert got[1]["ret"] == 0xE00002C7
    finally:
        for sock in socks:
            sock.close()
    grown_mib = (_rss_kib(kernel.pid, "VmHWM") - before) >> 10
    assert grown_mib < 600, grown_mib


def test_unfinished_frames_on_many_connections_hold_a_bounded_total(
        kernel: KernelProcess) -> None:
    """Each connection leaves a 4 MiB request three quarters sent: the kernel buffers at most
    UNFINISHED_LIMIT of them all (it held every byte: 60 such clients took 190 MiB, 1024
    would take 4 GiB), answers everybody else meanwhile, and reads a held-back frame whole
    once room returns."""
    import threading

    from iokit_sdk.iokitlib import MainPort

    from iokit_host.server.session import UNFINISHED_LIMIT

    with MainPort(kernel.path) as witness:
        assert witness.request("no-such-op")["ret"] == 0xE00002C7
        before = _rss_kib(kernel.pid)
        hostile: list[socket.socket] = []
        try:
            hostile += begin_large_frames(kernel.path, 60)
            grown_mib = (_rss_kib(kernel.pid) - before) >> 10
            assert grown_mib < (UNFINISHED_LIMIT >> 20) + 40, kernel.stderr()[-2000:]
            assert witness.request("no-such-op")["ret"] == 0xE00002C7
            # A request of a megabyte waits while the budget is taken, and is answered once
            # the unfinished frames' clients leave.
            replies: list[dict[str, object]] = []
            with MainPort(kernel.path) as big:
                asker = threading.Thread(target=lambda: replies.append(
                    big.request("no-such-op", pad=bytes(1 << 20))), daemon=True)
                asker.start()
                for sock in hostile:
                    sock.close()
                asker.join(30)
                assert replies and replies[0]["ret"] == 0xE00002C7, kernel.stderr()[-2000:]
        finally:
            for sock in hostile:
                sock.close()
    assert kernel.proc.poll() is None
