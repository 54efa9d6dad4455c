"""``io_connect_method``: IOKitLib's one routine behind every ``IOConnectCall*Method``.

IOKitLib's ``IOConnectCallMethod`` checks its arguments and sends the MIG message
``io_connect_method``; the kernel's reply carries the IOReturn and the outputs. Here
:meth:`MethodCalls.call_method` (a part of :class:`~iokit_sdk.iokitlib.port.MainPort`) does
the same: C's argument rules (``uint64_t`` scalars; at most 16 in, else MIG's
``MIG_ARRAY_TOO_LARGE``; an ``outputCnt`` past 16 sent as 16, as MIG's ``CountInOut`` does; a
structure input of at most :data:`MAX_STRUCT_INPUT` bytes; ``outputStructCnt`` a size up to
``UINT_MAX`` or ``kIOConnectMethodVarOutputSize``, else ``kIOReturnIPCError``), then a
synchronous call as a call frame (:mod:`.callframe`), an async one (or one the frame cannot
carry) as a ``call`` map, and the reply. The common call (plain ints in a list or tuple,
bytes, counts in range) is packed straight from the caller's values, the layout's widths
refusing whatever else; only other calls go through :func:`_checked`. The rest is written
out in one method: a program calls it in a loop, and each Python call costs more than the
work it does here.
"""

from __future__ import annotations

import itertools
import select
import socket
import struct
import threading
from collections.abc import Callable, Sequence
from typing import Any

from iokit_sdk.iokitlib.callframe import (
    CALL,
    CALL_REPLY,
    MARK,
    REPLY,
    REQUEST_SIZES,
    REQUESTS,
    SCALARS,
    pack_request,
)
from iokit_sdk.iokitlib.errors import KernelConnectionError, send_cause
from iokit_sdk.returns import MIG_ARRAY_TOO_LARGE, IOReturn, IOReturnError
from iokit_sdk.userclient import MAX_SCALARS, kIOConnectMethodVarOutputSize
from iokit_sdk.wirecodec import HEADER

__all__ = ["MAX_STRUCT_INPUT", "MIG_ARRAY_TOO_LARGE", "MethodCalls", "u32", "u64"]

#: The largest structure input sent; larger ones fail with ``kIOReturnMessageTooLarge``.
MAX_STRUCT_INPUT = 2 << 20
_U64 = (1 << 64) - 1
_U32 = 0xFFFFFFFF
_SUCCESS = int(IOReturn.SUCCESS)  # a plain int: an enum member's lookup costs more
_RECV = 1 << 16
_HEADER_SIZE = HEADER.size
_REPLY_END = REPLY.size
_unpack_reply = REPLY.unpack_from
_REQUESTS = REQUESTS
_REQUEST_SIZES = REQUEST_SIZES


class MethodCalls:
    """:class:`~iokit_sdk.iokitlib.port.MainPort`'s ``io_connect_method``; what it uses of
    the port is declared here."""

    timeout: float
    closed_reason: str | None
    _lock: threading.RLock
    _ids: itertools.count[int]
    _sock: socket.socket
    _poll: select.poll
    _unread: bytearray
    request_with: Callable[[str, dict[str, Any]], dict[str, Any]]
    _send_failed: Callable[[str, BaseException], BaseException]
    _lost: Callable[[str], KernelConnectionError]
    _reply: Callable[[int, bytes | None, bool], dict[str, Any]]
    garbled: Callable[[str, str, object], KernelConnectionError]

    def call_method(self, connection: int, selector: int, scalars: Sequence[int],
                    structure: bytes, scalar_out: int, struct_out: int,
                    async_: tuple[int, list[int]] | None = None
                    ) -> tuple[tuple[int, ...], bytes]:
        """``io_connect_method`` on ``connection`` (a handle of this port): the output
        scalars and structure, or :class:`IOReturnError` for a failing IOReturn. ``async_``:
        the notification port's handle and the reference words of an async call."""
        request_id = next(self._ids)
        frame = None
        # The common call is packed as it is: the layout's own range checks (each field's
        # width, uint64_t scalars, at most 16) refuse anything else, which _checked then
        # converts or refuses as C's rules say.
        if async_ is None and (type(scalars) is list or type(scalars) is tuple) \
                and type(selector) is int and type(structure) is bytes \
                and type(scalar_out) is int and 0 <= scalar_out <= MAX_SCALARS \
                and type(struct_out) is int \
                and (0 <= struct_out <= _U32 or struct_out == kIOConnectMethodVarOutputSize) \
                and len(structure) <= MAX_STRUCT_INPUT:
            for value in scalars:
                if type(value) is not int:  # a bool, a float, an int subclass: _checked
                    break
            else:
                try:
                    count = len(scalars)
                    frame = _REQUESTS[count].pack(
                        _REQUEST_SIZES[count] + len(structure), MARK, CALL, request_id,
                        connection, selector, count, scalar_out, struct_out,
                        *scalars) + structure
                except (struct.error, IndexError):  # a value past its field's width
                    pass
        if frame is None:
            selector, values, structure, scalar_out = _checked(selector, scalars, structure,
                                                               scalar_out, struct_out)
            frame = None if async_ is not None else pack_request(
                request_id, connection, selector, values, structure, scalar_out, struct_out)
            if frame is None:  # async, or what the call frame cannot carry
                fields: dict[str, Any] = {
                    "connect": int(connection), "selector": selector, "scalars": values,
                    "struct": structure, "scalar_out": scalar_out, "struct_out": struct_out}
                if async_ is not None:
                    fields["port"], fields["reference"] = async_
                return self.call_result(self.request_with("call", fields))  # its checks say
        self._lock.acquire()  # not `with`: half the cost, on every call
        try:
            if self.closed_reason is not None:
                raise KernelConnectionError(self.closed_reason, reference="kernel-gone")
            try:
                self._sock.sendall(frame)
            except BaseException as error:  # noqa: BLE001 - re-raised as what the caller is told
                raise self._send_failed("call", error) from send_cause(error)
            if self._unread:  # a frame begun: the port's usual reading goes on from it
                return self.call_result(self._reply(request_id, None, False))
            try:  # MainPort._read_now, inline
                got = self._sock.recv(_RECV) if self._poll.poll(self.timeout * 1e3) else None
            except BlockingIOError:  # SO_RCVTIMEO passed without data
                got = None
            except (OSError, ValueError) as error:  # ValueError: the socket is closed
                raise self._lost(f"the kernel went away ({error})") from error
            if got is not None:
                try:  # the common reply, one whole call frame, read where it lies
                    size, mark, kind, replied, ret, count = _unpack_reply(got)
                    if mark == MARK and kind == CALL_REPLY and replied == request_id \
                            and size == len(got) - _HEADER_SIZE:
                        outputs = SCALARS[count].unpack_from(got, _REPLY_END)
                        if ret:
                            raise IOReturnError(ret)
                        return outputs, got[_REPLY_END + 8 * count:]
                except (struct.error, IndexError):  # not that: callframe.decode says why
                    pass
            return self.call_result(self._reply(request_id, got, got is None))
        finally:
            self._lock.release()

    def call_result(self, reply: dict[str, Any]) -> tuple[tuple[int, ...], bytes]:
        """A ``call``'s reply map as :meth:`call_method` gives it: the output scalars and
        structure; :class:`IOReturnError` for a failing IOReturn, and ``kernel-garbled`` for a
        reply that makes no sense."""
        code = reply.get("ret", _SUCCESS)
        if code != _SUCCESS:
            if type(code) is not int:
                raise self.garbled("call", "ret", code)
            message = reply.get("message")
            raise IOReturnError(code, message if isinstance(message, str) else None)
        outputs, data = reply.get("scalars", ()), reply.get("struct", b"")
        if type(data) is not bytes:
            raise self.garbled("call", "struct", data)
        if type(outputs) is not list and type(outputs) is not tuple:
            raise self.garbled("call", "scalars", outputs)
        return tuple(outputs), data


def _checked(selector: int, scalars: Sequence[int], structure: bytes, scalar_out: int,
             struct_out: int) -> tuple[int, list[int], bytes, int]:
    """A call's arguments by C's rules, as MIG's stub sends them: the selector and the
    scalars as ``uint32_t`` and ``uint64_t`` (``-1`` is all ones; what is not an integer is a
    TypeError), at most 16 scalars in (else ``MIG_ARRAY_TOO_LARGE``), an ``outputCnt`` past
    16 sent as 16, a structure input of at most :data:`MAX_STRUCT_INPUT` bytes and an
    ``outputStructCnt`` up to ``UINT_MAX`` or ``kIOConnectMethodVarOutputSize`` (else
    ``kIOReturnIPCError``)."""
    values: list[int] = []
    for value in scalars:
        values.append(value & _U64 if type(value) is int else u64(value, "input"))
    if len(values) > MAX_SCALARS:  # MIG's stub refuses an inline array past its bound
        raise IOReturnError(MIG_ARRAY_TOO_LARGE, f"at most {MAX_SCALARS} scalars in")
    if not 0 <= scalar_out <= MAX_SCALARS:
        scalar_out = _output_count(scalar_out)
    data = structure if type(structure) is bytes else bytes(structure)
    if len(data) > MAX_STRUCT_INPUT:
        raise IOReturnError(IOReturn.MESSAGE_TOO_LARGE,
                            f"a structure input of {len(data)} bytes is over {MAX_STRUCT_INPUT}")
    if struct_out != kIOConnectMethodVarOutputSize and not 0 <= struct_out <= _U32:
        # As a size_t past UINT_MAX (a negative one too) travels out of line, and
        # is_io_connect_method refuses it (xnu-8792 to xnu-11417).
        raise IOReturnError(IOReturn.IPC_ERROR, f"outputStructCnt {struct_out} is past UINT_MAX")
    return (selector & _U32 if type(selector) is int else u32(selector, "selector"), values, data,
            scalar_out)


def _output_count(requested: int) -> int:
    """An ``outputCnt`` past 16 as MIG's stub sends it (``CountInOut``: the smaller of the
    caller's count and the array's 16); a negative one, which no ``uint32_t`` is, refused."""
    if type(requested) is int and requested > MAX_SCALARS:
        return MAX_SCALARS
    if type(requested) is int:
        raise IOReturnError(IOReturn.BAD_ARGUMENT, f"outputCnt {requested} is not a count")
    return requested  # not an integer: the kernel's checks say so


def u64(value: int, what: str) -> int:
    """``value`` as a ``uint64_t`` (``-1`` is ``0xFFFFFFFFFFFFFFFF``); a value that is not an
    integer (a bool is not) is a TypeError, as Python's own calls say it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} scalars are integers, not {type(value).__name__}")
    return value & _U64


def u32(value: int, what: str) -> int:
    """``value`` as a ``uint32_t``, checked as :func:`u64` checks."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} is an integer, not {type(value).__name__}")
    return value & _U32
