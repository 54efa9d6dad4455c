"""The call frame: ``IOConnectCallMethod``'s request and reply in a fixed binary layout.

IOKitLib's ``io_connect_method`` is a MIG routine: its request and reply are Mach messages of
a fixed layout (the scalars inline, the structure after them), not a self-describing encoding.
A synchronous call is the one request a program makes in a loop, so here it has such a frame
too, beside the msgpack maps every other message uses (docs/protocol.md, "The call frame").
The frame's length prefix is the usual one; its body begins with :data:`MARK`, a byte msgpack
never uses, so no map frame begins with it, then a kind:

- a request (:data:`CALL`): id, connect, selector (32 bits each), the scalar count and
  ``scalar_out`` (8 bits each), ``struct_out`` (signed 64 bits: ``-3`` is
  ``kIOConnectMethodVarOutputSize``), the scalars (64 bits each), then the structure input;
- a reply (:data:`CALL_REPLY`): id, ``ret`` (32 bits), the scalar count, the scalars, then the
  structure output.

Big-endian throughout, as the length prefix. :func:`decode` turns either into the message its msgpack form would
be, so every reader serves it as that; a client reads a reply of either form.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from iokit_sdk.userclient import MAX_SCALARS

__all__ = [
    "CALL",
    "CALL_REPLY",
    "MARK",
    "REPLIES",
    "REPLY",
    "REPLY_BODY",
    "REPLY_SIZES",
    "REQUEST",
    "REQUESTS",
    "REQUEST_BODY",
    "REQUEST_SIZES",
    "SCALARS",
    "CallFrameError",
    "decode",
    "pack_reply",
    "pack_request",
]

#: The body's first byte: 0xC1 is "never used" in msgpack, so no map frame begins with it.
MARK = 0xC1
#: The kinds: a call request (client to kernel) and its reply (kernel to client).
CALL = 1
CALL_REPLY = 2
_REQUEST_FIELDS = "BBIIIBBq"  # mark, kind, id, connect, selector, scalar count, scalar_out, struct_out
_REPLY_FIELDS = "BBIIB"  # mark, kind, id, ret, scalar count
#: A request's and a reply's fixed part, length prefix included (one pack for both).
REQUEST = struct.Struct(">I" + _REQUEST_FIELDS)
REPLY = struct.Struct(">I" + _REPLY_FIELDS)
#: The same without the length prefix: a frame's body, as readers are given it.
REQUEST_BODY = struct.Struct(">" + _REQUEST_FIELDS)
REPLY_BODY = struct.Struct(">" + _REPLY_FIELDS)
#: The scalars of each count a call may have (at most 16: ``MAX_SCALARS``).
SCALARS = tuple(struct.Struct(f">{count}Q") for count in range(MAX_SCALARS + 1))
#: A request's and a reply's fixed part and scalars, of each count, in one pack.
REQUESTS = tuple(struct.Struct(f">I{_REQUEST_FIELDS}{count}Q")
                 for count in range(MAX_SCALARS + 1))
REPLIES = tuple(struct.Struct(f">I{_REPLY_FIELDS}{count}Q") for count in range(MAX_SCALARS + 1))
#: A request's and a reply's body size (the length prefix's value) for each count of
#: scalars, before its structure.
REQUEST_SIZES = tuple(REQUEST_BODY.size + 8 * count for count in range(MAX_SCALARS + 1))
REPLY_SIZES = tuple(REPLY_BODY.size + 8 * count for count in range(MAX_SCALARS + 1))
_U32 = 0xFFFFFFFF


class CallFrameError(ValueError):
    """A call frame shorter than its own layout says, or of an unknown kind."""


def pack_request(request_id: int, connect: int, selector: int, scalars: Sequence[int],
                 structure: bytes, scalar_out: int, struct_out: int) -> bytes | None:
    """The whole frame (length prefix included) of a synchronous call; None when a value does
    not fit the layout (an id or handle past 32 bits, more than 16 scalars in or out, a
    capacity out of range or not an integer), and the call goes as a msgpack map instead
    (whose checks say what is wrong). The scalars are already ``uint64_t``."""
    count = len(scalars)
    if type(scalar_out) is not int or type(struct_out) is not int or request_id > _U32 \
            or not 0 <= connect <= _U32 or count > MAX_SCALARS \
            or not 0 <= scalar_out <= MAX_SCALARS or not -(1 << 63) <= struct_out < 1 << 63:
        return None
    return REQUESTS[count].pack(REQUEST_SIZES[count] + len(structure), MARK, CALL, request_id,
                                connect, selector, count, scalar_out, struct_out,
                                *scalars) + structure


def pack_reply(request_id: int, ret: int, scalars: Sequence[int], structure: bytes) -> bytes:
    """The whole frame of a call's reply: ``ret`` is an IOReturn (32 bits), the scalars are
    ``uint64_t`` (at most 16), ``structure`` the output structure."""
    count = len(scalars)
    return REPLIES[count].pack(REPLY_SIZES[count] + len(structure), MARK, CALL_REPLY,
                               request_id, ret, count, *scalars) + structure


def decode(body: bytes | memoryview) -> dict[str, Any]:
    """A call frame's body (from its mark on) as the message its msgpack form is: a request as
    ``{"op": "call", "id", "connect", "selector", "scalars", "struct", "scalar_out",
    "struct_out"}``, a reply as ``{"id", "ret", "scalars", "struct"}``.

    :raises CallFrameError: the body is shorter than its layout, or of an unknown kind.
    """
    kind = body[1] if len(body) > 1 else None
    if kind == CALL and len(body) >= REQUEST_BODY.size:
        (_, _, request_id, connect, selector, count, scalar_out,
         struct_out) = REQUEST_BODY.unpack_from(body)
        end = REQUEST_BODY.size
        return {"op": "call", "id": request_id, "connect": connect, "selector": selector,
                "scalars": _scalars(body, end, count), "scalar_out": scalar_out,
                "struct_out": struct_out, "struct": bytes(body[end + 8 * count:])}
    if kind == CALL_REPLY and len(body) >= REPLY_BODY.size:
        _, _, request_id, ret, count = REPLY_BODY.unpack_from(body)
        end = REPLY_BODY.size
        return {"id": request_id, "ret": ret, "scalars": _scalars(body, end, count),
                "struct": bytes(body[end + 8 * count:])}
    if kind in (CALL, CALL_REPLY):
        raise CallFrameError(f"a call frame of {len(body)} bytes is shorter than its header")
    raise CallFrameError(f"a call frame of unknown kind {kind}")


def _scalars(body: bytes | memoryview, offset: int, count: int) -> list[int]:
    if len(body) < offset + 8 * count:
        raise CallFrameError(f"a call frame of {len(body)} bytes is shorter than its "
                             f"{count} scalars")
    if count < len(SCALARS):
        return list(SCALARS[count].unpack_from(body, offset))
    return list(struct.unpack_from(f">{count}Q", body, offset))  # too many: the checks say so
