"""The wire format: frames in any chunks, typed registry values, limits, only FrameError."""

from __future__ import annotations

import gc
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.iokitlib.wire import (
    MAX_REQUEST_FRAME,
    FrameError,
    FrameReader,
    kernel_socket_path,
    pack,
    user_socket_path,
)
from iokit_sdk.returns import IOReturn
from iokit_sdk.values import OSNumber


def test_registry_values_keep_their_types() -> None:
    value = {"n": OSNumber(5, 16), "big": OSNumber((1 << 64) - 1), "set": frozenset({1, "a"}),
             "data": b"\x00\xff", "list": (1, [True]), "ret": IOReturn.BAD_ARGUMENT}
    (decoded,) = FrameReader(MAX_REQUEST_FRAME).feed(pack(value))
    assert decoded["n"] == 5 and decoded["n"].bits == 16
    assert decoded["big"].bits == 64
    assert decoded["set"] == frozenset({1, "a"})
    assert decoded["list"] == [1, [True]] and decoded["data"] == b"\x00\xff"
    assert decoded["ret"] == 0xE00002C2 and type(decoded["ret"]) is int


@settings(max_examples=100, deadline=None)
@given(cut=st.lists(st.integers(1, 40), max_size=20))
def test_frames_arrive_whole_whatever_the_chunks(cut: list[int]) -> None:
    stream = b"".join(pack({"id": n, "pad": "x" * n}) for n in range(10))
    reader = FrameReader(MAX_REQUEST_FRAME)
    got: list[dict[str, object]] = []
    offset = 0
    for size in [*cut, len(stream)]:
        got.extend(reader.feed(stream[offset:offset + size]))
        offset += size
    assert [m["id"] for m in got] == list(range(10)) and reader.pending == 0


def test_over_the_limit_is_refused_from_the_header_alone() -> None:
    with pytest.raises(FrameError) as raised:
        FrameReader(100).feed(struct.pack(">I", 101))
    assert raised.value.reference == "frame-too-large"


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(0, 200), bad=st.sampled_from([b"\x00\x00\x00\x01\xc1",
                                                    struct.pack(">I", 1 << 30)]))
def test_the_messages_before_a_bad_frame_are_kept_with_its_error(cut: int, bad: bytes) -> None:
    good = b"".join(pack({"id": n}) for n in range(5))
    stream = good + bad + pack({"id": 99})
    reader = FrameReader(1 << 20)
    got: list[dict[str, object]] = []
    with pytest.raises(FrameError) as raised:
        got += reader.feed(stream[:cut])  # the bytes in any two reads
        got += reader.feed(stream[cut:])
    got += raised.value.messages
    assert [m["id"] for m in got] == [0, 1, 2, 3, 4]  # never the one after the bad frame


def test_sets_are_refused_where_the_reader_does_not_take_them() -> None:
    with pytest.raises(FrameError, match="frame-malformed|unknown extension"):
        FrameReader(MAX_REQUEST_FRAME, sets=False).feed(pack({"s": frozenset({1})}))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=512))
def test_random_bytes_give_messages_or_a_frame_error(data: bytes) -> None:
    try:
        messages = FrameReader(MAX_REQUEST_FRAME, sets=False).feed(data)
    except FrameError as error:
        assert error.reference in ("frame-too-large", "frame-malformed")
        return
    assert all(isinstance(m, dict) for m in messages)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=256))
def test_random_bodies_give_a_map_or_a_frame_error(body: bytes) -> None:
    frame = struct.pack(">I", len(body)) + body
    try:
        (message,) = FrameReader(MAX_REQUEST_FRAME, sets=False).feed(frame)
    except FrameError:
        return
    assert isinstance(message, dict)


def test_deep_nesting_is_a_frame_error() -> None:
    body = b"\x91" * 100_000 + b"\x00"
    with pytest.raises(FrameError, match="nested deeper than msgpack reads"):
        FrameReader(MAX_REQUEST_FRAME).feed(struct.pack(">I", len(body)) + body)


def test_socket_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/501")
    monkeypatch.delenv("IOKIT_KERNEL", raising=False)
    assert user_socket_path() == "/run/user/501/iokit/kernel.sock"
    assert kernel_socket_path() == "/run/user/501/iokit/kernel.sock"
    monkeypatch.setenv("IOKIT_KERNEL", "/tmp/k.sock")
    assert kernel_socket_path() == "/tmp/k.sock" and kernel_socket_path("/x") == "/x"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert user_socket_path().endswith(f"iokit-{os.getuid()}/kernel.sock")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "run/user")  # relative: the XDG spec ignores it
    assert user_socket_path().endswith(f"iokit-{os.getuid()}/kernel.sock")


def _large_frame() -> bytes:
    return pack({"entries": [{"id": n, "properties": {"name": f"N{n}"}} for n in range(20_000)]})


def test_a_large_message_leaves_the_collector_on_and_its_objects_collectable() -> None:
    frame = _large_frame()
    assert len(frame) > (1 << 16)  # decoded with the collector paused
    # Not 0: Python 3.12 starts with objects of its own in the permanent generation.
    frozen = gc.get_freeze_count()
    (decoded,) = FrameReader(MAX_REQUEST_FRAME).feed(frame)
    assert gc.isenabled() and gc.get_freeze_count() == frozen  # nothing left frozen
    assert gc.is_tracked(decoded) and len(decoded["entries"]) == 20_000


def test_a_program_that_froze_its_objects_keeps_them_frozen() -> None:
    kept = [[n] for n in range(1000)]  # a program's own objects, frozen before a fork
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        FrameReader(MAX_REQUEST_FRAME).feed(_large_frame())
        assert gc.get_freeze_count() == frozen and gc.isenabled()
    finally:
        gc.unfreeze()
    assert kept
