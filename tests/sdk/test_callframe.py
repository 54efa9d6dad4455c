"""The call frame: a synchronous call and its reply in their fixed layout, read by every
reader as the map it stands for; anything else that begins with its mark is a FrameError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.iokitlib.callframe import MARK, pack_reply, pack_request
from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, MAX_REQUEST_FRAME, FrameError, FrameReader
from iokit_sdk.userclient import kIOConnectMethodVarOutputSize

U32 = st.integers(0, 0xFFFFFFFF)
SCALARS = st.lists(st.integers(0, (1 << 64) - 1), max_size=16)


@settings(max_examples=200, deadline=None)
@given(request_id=U32, connect=U32, selector=U32, scalars=SCALARS,
       structure=st.binary(max_size=300), scalar_out=st.integers(0, 16),
       struct_out=st.sampled_from([kIOConnectMethodVarOutputSize, 0, 0xFFFFFFFF]) | U32)
def test_a_request_reads_as_the_call_map_it_stands_for(
        request_id: int, connect: int, selector: int, scalars: list[int], structure: bytes,
        scalar_out: int, struct_out: int) -> None:
    frame = pack_request(request_id, connect, selector, scalars, structure, scalar_out,
                         struct_out)
    assert frame is not None
    (message,) = FrameReader(MAX_REQUEST_FRAME, sets=False).feed(frame)
    assert message == {"op": "call", "id": request_id, "connect": connect,
                       "selector": selector, "scalars": scalars, "struct": structure,
                       "scalar_out": scalar_out, "struct_out": struct_out}


@settings(max_examples=200, deadline=None)
@given(request_id=U32, ret=U32, scalars=SCALARS, structure=st.binary(max_size=300),
       cut=st.integers(0, 400))
def test_a_reply_reads_as_the_reply_map_it_stands_for_in_any_chunks(
        request_id: int, ret: int, scalars: list[int], structure: bytes, cut: int) -> None:
    frame = pack_reply(request_id, ret, scalars, structure)
    reader = FrameReader(MAX_KERNEL_FRAME)
    (message,) = reader.feed(frame[:cut]) + reader.feed(frame[cut:])
    assert message == {"id": request_id, "ret": ret, "scalars": scalars, "struct": structure}


@pytest.mark.parametrize(("request_id", "connect", "scalars", "scalar_out", "struct_out"), [
    (1 << 32, 5, [], 0, 0),  # an id past 32 bits (after four billion calls)
    (1, 1 << 32, [], 0, 0),  # a handle no kernel gives
    (1, 5, [0] * 17, 0, 0),  # more scalars than a call carries
    (1, 5, [], 17, 0),
    (1, 5, [], 1.0, 0),  # not an integer: the map's checks say so
    (1, 5, [], 0, None),
])
def test_what_the_layout_cannot_carry_goes_as_a_map(request_id: int, connect: int,
                                                   scalars: list[int], scalar_out: object,
                                                   struct_out: object) -> None:
    assert pack_request(request_id, connect, 0, scalars, b"", scalar_out,  # type: ignore[arg-type]
                        struct_out) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("body", [
    bytes([MARK]), bytes([MARK, 1]), bytes([MARK, 2, 0, 0]),  # shorter than the header
    bytes([MARK, 9]) + bytes(30),  # an unknown kind
    bytes([MARK, 1]) + (1).to_bytes(4, "big") * 3 + bytes([3, 0]) + bytes(8 + 8),  # 3 said, 1
    bytes([MARK, 2]) + bytes(8) + bytes([2]) + bytes(8),  # 2 scalars said, 1 there
])
def test_a_short_or_unknown_call_frame_is_a_frame_error(body: bytes) -> None:
    with pytest.raises(FrameError, match="call frame") as raised:
        FrameReader(MAX_REQUEST_FRAME).feed(len(body).to_bytes(4, "big") + body)
    assert raised.value.reference == "frame-malformed"


@settings(max_examples=300, deadline=None)
@given(rest=st.binary(max_size=200))
def test_any_body_that_begins_with_the_mark_is_a_message_or_a_frame_error(rest: bytes) -> None:
    body = bytes([MARK]) + rest
    try:
        (message,) = FrameReader(MAX_REQUEST_FRAME).feed(len(body).to_bytes(4, "big") + body)
    except FrameError:
        return
    assert isinstance(message["id"], int) and isinstance(message["scalars"], list)
