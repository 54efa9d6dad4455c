"""The kernel socket's wire format: length-prefixed msgpack frames (the Mach message's place).

IOKitLib talks to the kernel with Mach messages on the task's IOKit main port. Here a program
talks to a running ``iokit kernel`` over an ``AF_UNIX`` stream socket: each message is one
frame, a 4-byte big-endian length then that many bytes of msgpack encoding one map. Registry
values keep their libkern types: an ``OSNumber`` travels as extension type 1 (its width in one
byte, its value in eight), a set (``OSSet``) as extension type 2 (a msgpack array), everything
else as msgpack's own types. docs/protocol.md documents the messages; this module is the one
place that encodes and decodes them, for the kernel and for its clients alike.
"""

from __future__ import annotations

import gc
import os
import struct
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import msgpack

from iokit_sdk.values import OSNumber

__all__ = [
    "MAX_KERNEL_FRAME",
    "MAX_REQUEST_FRAME",
    "PROTOCOL",
    "PROTOCOL_VERSION",
    "FrameError",
    "FrameReader",
    "fit_integers",
    "gc_paused",
    "kernel_socket_path",
    "pack",
    "user_socket_path",
]

#: The protocol's name and version; a client and a kernel of different versions refuse each
#: other in the handshake (``hello``), each with a message naming both versions.
PROTOCOL = "iokit"
PROTOCOL_VERSION = 1
#: The largest frame a kernel reads from a client (a struct input is at most a few MiB) and the
#: largest a client reads from a kernel (a registry snapshot of a large machine).
MAX_REQUEST_FRAME = 4 << 20
MAX_KERNEL_FRAME = 256 << 20

_HEADER = struct.Struct(">I")
_NUMBER = struct.Struct(">BQ")
_EXT_NUMBER = 1
_EXT_SET = 2
_U64 = (1 << 64) - 1
#: Registry values nest at most MAX_VALUE_DEPTH (128); messages add a few levels around them.
_FIT_DEPTH = 160


class FrameError(ValueError):
    """A frame that cannot be read: too large, not msgpack, or not a map. The connection is
    closed after it; ``reference`` names the reason (``frame-too-large``, ``frame-malformed``)."""

    def __init__(self, reference: str, message: str) -> None:
        self.reference = reference
        super().__init__(message)


def _default(value: object) -> Any:
    # strict_types: OSNumber (an int subclass), tuples and sets arrive here instead of being
    # packed as their base type, so their libkern type survives.
    if isinstance(value, OSNumber):
        return msgpack.ExtType(_EXT_NUMBER, _NUMBER.pack(value.bits, int(value)))
    if isinstance(value, (frozenset, set)):
        return msgpack.ExtType(_EXT_SET, _packb(list(value)))
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):  # an IntEnum (IOReturn) or another int subclass
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot travel over the kernel socket")


def _packb(value: object) -> bytes:
    return msgpack.packb(value, default=_default, strict_types=True, use_bin_type=True)  # type: ignore[no-any-return]


def pack(message: dict[str, Any]) -> bytes:
    """One frame: the length prefix and the msgpack map.

    :raises TypeError: a value has no wire form. :raises OverflowError: an integer does not
        fit in 64 bits.
    """
    body = _packb(message)
    return _HEADER.pack(len(body)) + body


def fit_integers(value: Any, depth: int = 0) -> Any:
    """``value`` with every integer msgpack cannot carry (past 64 bits) cut to the 64 bits an
    ``OSNumber`` holds: a plain ``int`` property counts as 64 bits, as the kernel's does."""
    if isinstance(value, bool) or depth > _FIT_DEPTH:
        return value
    if isinstance(value, int):
        return value if -(1 << 63) <= value < 1 << 64 else OSNumber(value & _U64)
    if isinstance(value, Mapping):
        return {k: fit_integers(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [fit_integers(v, depth + 1) for v in value]
    if isinstance(value, (frozenset, set)):
        return frozenset(fit_integers(v, depth + 1) for v in value)
    return value


def _ext_hook(sets: bool) -> Any:
    def hook(code: int, data: bytes) -> object:
        if code == _EXT_NUMBER and len(data) == _NUMBER.size:
            bits, value = _NUMBER.unpack(data)
            return OSNumber(value, bits)
        if code == _EXT_SET and sets:
            items = msgpack.unpackb(data, raw=False, ext_hook=hook)
            return frozenset(items) if isinstance(items, list) else items
        raise ValueError(f"unknown extension type {code}")
    return hook


class FrameReader:
    """Turns the bytes of one connection into messages, whatever chunks they arrive in.

    :param limit: the largest frame accepted (:data:`MAX_REQUEST_FRAME` in the kernel).
    :param sets: decode extension type 2 (sets); the kernel, reading untrusted clients,
        does not (a set nests a whole msgpack document, so it could nest without bound).
    """

    def __init__(self, limit: int, *, sets: bool = True) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._hook = _ext_hook(sets)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Every complete message ``data`` finishes, in order.

        :raises FrameError: a frame over the limit (seen from its header alone) or one that
            is not a msgpack map; nothing after it can be trusted.
        """
        buffer = self._buffer
        buffer += data
        messages: list[dict[str, Any]] = []
        offset = 0
        while len(buffer) - offset >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer, offset)
            if size > self.limit:
                raise FrameError("frame-too-large", f"a frame of {size} bytes is over the "
                                 f"limit of {self.limit}")
            end = offset + _HEADER.size + size
            if len(buffer) < end:
                break
            messages.append(self._decode(bytes(buffer[offset + _HEADER.size:end])))
            offset = end
        del buffer[:offset]
        return messages

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame."""
        return len(self._buffer)

    def _decode(self, body: bytes) -> dict[str, Any]:
        try:
            if len(body) < _LARGE:
                message = msgpack.unpackb(body, raw=False, ext_hook=self._hook,
                                          strict_map_key=True)
            else:
                with gc_paused():
                    message = msgpack.unpackb(body, raw=False, ext_hook=self._hook,
                                              strict_map_key=True)
        except Exception as error:  # any decoding failure is the frame's fault
            raise FrameError("frame-malformed",
                             f"not a msgpack message: {type(error).__name__}: {error}"
                             ) from error
        if not isinstance(message, dict):
            raise FrameError("frame-malformed",
                             f"a message is a map, not {type(message).__name__}")
        return message


#: A body this large (a registry snapshot) is decoded with the cyclic GC paused.
_LARGE = 1 << 16


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large message is built or decoded: its
    thousands of new containers would otherwise trigger collections that walk the whole heap
    (a running kernel's is large), several times per message. Nothing cyclic is made."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def user_socket_path() -> str:
    """The per-user default: ``$XDG_RUNTIME_DIR/iokit/kernel.sock``, else
    ``<tmp>/iokit-<uid>/kernel.sock`` (the kernel makes that directory 0700)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "iokit", "kernel.sock")
    return os.path.join(tempfile.gettempdir(), f"iokit-{os.getuid()}", "kernel.sock")


def kernel_socket_path(explicit: str | None = None) -> str:
    """``explicit``, else ``$IOKIT_KERNEL``, else :func:`user_socket_path`."""
    return explicit or os.environ.get("IOKIT_KERNEL") or user_socket_path()
