"""A session's outbox: replies kept in order, notifications bounded, drops counted and told."""

from __future__ import annotations

import os
import socket

import pytest
from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader, pack
from kernelkit import KernelProcess, begin_large_frames

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


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


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
