"""A session's outbox: replies kept in order, notifications bounded, drops counted and told."""

from __future__ import annotations

import socket

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
