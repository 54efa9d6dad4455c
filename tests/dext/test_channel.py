"""Frames between kernel and driver process: whole, split, bad, late, gone."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import sys

import msgpack
import pytest
from iokit_sdk.iokitlib.wire import pack
from iokit_sdk.values import OSNumber
from iokit_sdk.wirecodec import MAX_SET_DEPTH

from iokit_host.dext.channel import (
    DRIVER_FRAME,
    MAX_CONTAINERS,
    Channel,
    ChannelClosed,
    ChannelTimeout,
)


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    left, right = Channel(a), Channel(b)
    yield left, right
    left.close()
    right.close()


def test_messages_keep_their_libkern_types_and_big_integers_are_cut_to_64_bits(pair):
    left, right = pair
    left.send({"n": OSNumber(7, 16), "big": 1 << 70, "set": frozenset({1})})
    got = right.receive(5)
    assert got["n"] == 7 and got["n"].bits == 16
    assert got["big"] == (1 << 70) & ((1 << 64) - 1)
    assert got["set"] == frozenset({1})


def test_a_frame_split_across_reads_and_two_in_one_read_both_arrive(pair):
    left, right = pair
    frame = pack({"a": 1})
    left.sock.sendall(frame[:3])
    left.sock.sendall(frame[3:] + pack({"b": 2}))
    assert right.receive(5) == {"a": 1}
    assert right.receive(5) == {"b": 2}


def test_no_reply_before_the_deadline_is_a_timeout_and_a_closed_peer_is_closed(pair):
    left, right = pair
    with pytest.raises(ChannelTimeout, match="no reply within 0.05 s"):
        right.receive(0.05)
    left.close()
    with pytest.raises(ChannelClosed):
        right.receive(5)


def test_a_frame_that_is_not_a_map_closes_the_channel(pair):
    left, right = pair
    body = b"\x93\x01\x02\x03"  # a msgpack array
    left.sock.sendall(len(body).to_bytes(4, "big") + body)
    with pytest.raises(ChannelClosed, match="map"):
        right.receive(5)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_descriptors_ride_on_frames_and_are_kept_only_when_accepted(pair, tmp_path):
    left, right = pair
    path = tmp_path / "buffer"
    path.write_bytes(b"shared")
    before = _open_fds()
    fd = os.open(path, os.O_RDONLY)
    left.send({"unasked": 1}, (fd,))  # not accepted: the socket layer drops it
    assert right.receive(5) == {"unasked": 1} and right.take_fd() is None
    right.accept_fds = True
    left.send({"memory": 6}, (fd, fd))
    assert right.receive(5) == {"memory": 6}
    taken = right.take_fd()
    assert taken is not None and os.pread(taken, 6, 0) == b"shared"
    os.close(taken)
    right.close_fds()  # the one nobody took
    os.close(fd)
    assert _open_fds() == before


def test_drain_returns_what_came_before_the_peer_closed(pair):
    left, right = pair
    assert right.drain() == [] and not right.eof
    left.send({"op": "async", "ref": 1})
    left.close()
    assert right.drain() == [{"op": "async", "ref": 1}]
    assert right.eof and right.drain() == []


_READER = """
import socket, sys
from iokit_host.dext.channel import Channel, ChannelClosed
channel = Channel(socket.socket(fileno=int(sys.argv[1])))
try:
    print(sorted(channel.receive(30)))
except ChannelClosed as error:
    print(error)
"""


@pytest.mark.parametrize(("depth", "said"), [
    (MAX_SET_DEPTH, "['set']"),
    (MAX_SET_DEPTH + 1, f"unreadable frame: sets nested more than {MAX_SET_DEPTH} deep"),
    (5000, f"unreadable frame: sets nested more than {MAX_SET_DEPTH} deep")])
def test_sets_nested_past_the_bound_close_the_channel_not_the_reader(depth: int,
                                                                     said: str) -> None:
    """Each set's members are decoded by a msgpack call of their own: a driver process's
    frame of sets nested 200 deep overflowed the kernel's stack (killed by SIGSEGV)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        reader = subprocess.Popen([sys.executable, "-c", _READER, str(theirs.fileno())],
                                  pass_fds=[theirs.fileno()], stdout=subprocess.PIPE, text=True)
        value = msgpack.packb([])
        for _ in range(depth):
            value = msgpack.packb(msgpack.ExtType(2, value))
        body = b"\x81\xa3set" + value
        ours.sendall(len(body).to_bytes(4, "big") + body)
        out, _ = reader.communicate(timeout=60)
    assert (reader.returncode, out.strip()) == (0, said)


def test_a_frame_building_too_many_arrays_and_maps_closes_the_channel(pair):
    """A 256 MiB frame of empty maps built some 18 GB of them in the kernel; past
    MAX_CONTAINERS the frame is unreadable, and the kernel reads a driver process's frames
    up to DRIVER_FRAME only."""
    import threading

    left, right = pair
    count = MAX_CONTAINERS + 1
    body = b"\x81\xa1x\xdd" + count.to_bytes(4, "big") + b"\x80" * count
    sender = threading.Thread(target=left.sock.sendall,
                              args=(len(body).to_bytes(4, "big") + body,), daemon=True)
    sender.start()
    with pytest.raises(ChannelClosed, match=f"holds more than {MAX_CONTAINERS} arrays"):
        right.receive(30)
    sender.join(30)
    a, b = socket.socketpair()
    kernel_end = Channel(b, limit=DRIVER_FRAME)
    with a:
        a.sendall((DRIVER_FRAME + 1).to_bytes(4, "big"))
        with pytest.raises(ChannelClosed, match=f"over the limit of {DRIVER_FRAME}"):
            kernel_end.receive(5)
    kernel_end.close()


def test_a_peer_sending_without_pause_never_holds_drain(pair):
    """drain read until nothing was left: a driver process sending faster than the kernel
    decoded held the kernel's loop there for as long as it went on."""
    import threading

    left, right = pair
    frame = pack({"op": "flood", "pad": bytes(100)})
    stop = threading.Event()

    def flood() -> None:
        with contextlib.suppress(OSError):  # its reader closed
            while not stop.is_set():
                left.sock.sendall(frame * 64)
    sender = threading.Thread(target=flood, daemon=True)
    sender.start()
    try:
        total = 0
        for _ in range(50):
            # Something to read first: the sender's thread may not have begun yet.
            assert select.select([right.sock], [], [], 10)[0]
            got = right.drain()
            assert len(got) * len(frame) <= (16 << 16) + len(frame)
            total += len(got)
        assert total and not right.eof
    finally:
        stop.set()
        right.close()  # the sender's next write fails: it ends
        sender.join(10)
