"""The kernel socket's wire format: length-prefixed msgpack frames (the Mach message's place).

IOKitLib talks to the kernel with Mach messages on the task's IOKit main port. Here a program
talks to a running ``iokit kernel`` over an ``AF_UNIX`` stream socket: each message is one
frame, a 4-byte big-endian length then that many bytes of msgpack encoding one map (or, for a
synchronous ``IOConnectCallMethod`` and its reply, a call frame: :mod:`.callframe`). Registry
values keep their libkern types (:mod:`iokit_sdk.wirecodec`, shared with driver processes).
docs/protocol.md documents the messages; this module frames and reads them, for the kernel and
for its clients alike.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import msgpack

from iokit_sdk.iokitlib import callframe
from iokit_sdk.iokitlib.callframe import MARK, CallFrameError
from iokit_sdk.wirecodec import HEADER, ext_hook, fit_integers, gc_paused, packb

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
#: other in the handshake (``hello``), each with a message naming both versions. Version 2:
#: ``map_memory`` passes the memory as a descriptor (``SCM_RIGHTS``), no longer a path.
#: Version 3: the call frame. Version 4: ``tool.registry`` answers in parts (``more``), which
#: a version-3 tool would have taken for the whole registry. Version 5: a lookup
#: (``get_matching``, ``children``) and a matching notification's existing services answer
#: with a kernel-side iterator and its first batch (``iterator_next`` for the rest), which a
#: version-4 client would have taken for every service; and a ``tool.registry`` part's
#: entries are rows (arrays of the record's fields), no longer maps.
PROTOCOL = "iokit"
PROTOCOL_VERSION = 5
#: The largest frame a kernel reads from a client (a struct input is at most a few MiB) and the
#: largest a client reads from a kernel (a registry snapshot of a large machine).
MAX_REQUEST_FRAME = 4 << 20
MAX_KERNEL_FRAME = 256 << 20

class FrameError(ValueError):
    """A frame that cannot be read: too large, not msgpack, or not a map. The connection is
    closed after it; ``reference`` names the reason (``frame-too-large``, ``frame-malformed``).
    ``messages`` are the whole messages that came before it in the same bytes: they were
    intact, and a reader serves them before it closes the connection."""

    def __init__(self, reference: str, message: str) -> None:
        self.reference = reference
        self.messages: list[dict[str, Any]] = []
        super().__init__(message)


def pack(message: dict[str, Any]) -> bytes:
    """One frame: the length prefix and the msgpack map.

    :raises TypeError: a value has no wire form. :raises OverflowError: an integer does not
        fit in 64 bits.
    """
    body = packb(message)
    return HEADER.pack(len(body)) + body


class FrameReader:
    """Turns the bytes of one connection into messages, whatever chunks they arrive in.

    :param limit: the largest frame accepted (:data:`MAX_REQUEST_FRAME` in the kernel).
    :param sets: decode extension type 2 (sets); the kernel, reading untrusted clients,
        does not (a set nests a whole msgpack document, so it could nest without bound).
    """

    def __init__(self, limit: int, *, sets: bool = True) -> None:
        self.limit = limit
        #: Bytes received that do not yet make a whole frame: a bytearray that stays the same
        #: object, so a reader of a hot path may hold it (empty: nothing pending).
        self.unread = bytearray()
        #: The extension types' decoder :meth:`decode` passes msgpack (for a hot path that
        #: decodes a small body itself, then calls :meth:`decode` when that failed).
        self.ext_hook = ext_hook(sets)

    def feed(self, data: bytes | bytearray | memoryview) -> list[dict[str, Any]]:
        """Every complete message ``data`` finishes, in order (``data`` is not kept: it may
        be a view of the caller's receive buffer).

        :raises FrameError: a frame over the limit (seen from its header alone) or one that
            is not a msgpack map; nothing after it can be trusted.
        """
        buffer = self.unread
        if not buffer:
            return self._feed_fresh(memoryview(data))
        buffer += data
        messages: list[dict[str, Any]] = []
        offset = 0
        try:
            while len(buffer) - offset >= HEADER.size:
                (size,) = HEADER.unpack_from(buffer, offset)
                if size > self.limit:
                    raise _too_large(size, self.limit)
                end = offset + HEADER.size + size
                if len(buffer) < end:
                    break
                messages.append(self.decode(bytes(buffer[offset + HEADER.size:end])))
                offset = end
        except FrameError as error:
            error.messages = messages
            buffer.clear()  # nothing after a bad frame can be trusted
            raise
        del buffer[:offset]
        return messages

    def _feed_fresh(self, view: memoryview) -> list[dict[str, Any]]:
        """:meth:`feed` with nothing pending: frames are decoded where they lie (the common
        case, one whole request per read), only a partial last frame is copied."""
        total = len(view)
        if total > HEADER.size and HEADER.unpack_from(view)[0] == total - HEADER.size \
                and total - HEADER.size <= self.limit:
            return [self.decode(view[HEADER.size:])]  # exactly one frame
        messages: list[dict[str, Any]] = []
        offset = 0
        try:
            while total - offset >= HEADER.size:
                (size,) = HEADER.unpack_from(view, offset)
                if size > self.limit:
                    raise _too_large(size, self.limit)
                end = offset + HEADER.size + size
                if total < end:
                    break
                messages.append(self.decode(view[offset + HEADER.size:end]))
                offset = end
        except FrameError as error:
            error.messages = messages
            raise
        if offset < total:
            self.unread += view[offset:]
        return messages

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame."""
        return len(self.unread)

    def decode(self, body: bytes | memoryview) -> dict[str, Any]:
        """One frame's body (after its length) as its message: a msgpack map, or a call
        frame (:mod:`.callframe`) as the map it stands for.

        :raises FrameError: it is neither.
        """
        if len(body) and body[0] == MARK:
            try:
                return callframe.decode(body)
            except CallFrameError as error:
                raise FrameError("frame-malformed", str(error)) from error
        try:
            if len(body) < _LARGE:
                message = msgpack.unpackb(body, raw=False, ext_hook=self.ext_hook,
                                          strict_map_key=True)
            else:
                with gc_paused():
                    message = msgpack.unpackb(body, raw=False, ext_hook=self.ext_hook,
                                              strict_map_key=True)
        except msgpack.StackError as error:  # (it says nothing of itself)
            raise FrameError("frame-malformed", "not a msgpack message: nested deeper than "
                             "msgpack reads (1,024 levels)") from error
        except Exception as error:  # any decoding failure is the frame's fault
            raise FrameError("frame-malformed",
                             f"not a msgpack message: {type(error).__name__}: {error}"
                             ) from error
        if not isinstance(message, dict):
            raise FrameError("frame-malformed",
                             f"a message is a map, not {type(message).__name__}")
        return message


def _too_large(size: int, limit: int) -> FrameError:
    return FrameError("frame-too-large", f"a frame of {size} bytes is over the limit of {limit}")


#: A body this large (a registry snapshot) is decoded with the cyclic GC paused.
_LARGE = 1 << 16


def user_socket_path() -> str:
    """The per-user default: ``$XDG_RUNTIME_DIR/iokit/kernel.sock``, else
    ``<tmp>/iokit-<uid>/kernel.sock`` (the kernel makes that directory 0700)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):  # the XDG spec: a relative one is ignored
        return os.path.join(runtime, "iokit", "kernel.sock")
    return os.path.join(tempfile.gettempdir(), f"iokit-{os.getuid()}", "kernel.sock")


def kernel_socket_path(explicit: str | None = None) -> str:
    """``explicit``, else ``$IOKIT_KERNEL``, else :func:`user_socket_path`."""
    return explicit or os.environ.get("IOKIT_KERNEL") or user_socket_path()
