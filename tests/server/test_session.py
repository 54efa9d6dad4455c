"""A session's outbox: replies kept in order, notifications bounded, drops counted and told."""

from __future__ import annotations

import os
import socket

import pytest
from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader, pack

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
