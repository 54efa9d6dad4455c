"""A request/reply channel with deadlines: the IORPC message's place between kernel and dext.

Both ends speak the running kernel's framing (:mod:`iokit_sdk.iokitlib.wire`: length-prefixed
msgpack maps, encoded by :mod:`iokit_host.dext.codec`) on one ``AF_UNIX`` stream socket. A read waits at most until its deadline, in
real time, because the peer is a real process: the host clock only moves when someone moves
it. The peer closing its end (it exited, was killed, crashed) is :class:`ChannelClosed`.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

import msgpack

from iokit_host.dext.codec import HEADER, ext_hook, fit_integers, new_packer

__all__ = ["MAX_FRAME", "Channel", "ChannelClosed", "ChannelTimeout"]

#: The largest frame either end reads (the kernel socket's ``MAX_KERNEL_FRAME``).
MAX_FRAME = 256 << 20
_HEADER = HEADER
_TIMEVAL = struct.Struct("@ll")


class ChannelClosed(Exception):
    """The peer's end is closed, or what it sent cannot be read."""


class ChannelTimeout(Exception):
    """No reply before the deadline."""


class Channel:
    """One end of a socket carrying frames."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(True)
        self.sock = sock
        self._buffer = bytearray()
        self._queued: list[dict[str, Any]] = []
        # One packer per channel, not one per message: a third of a forwarded call otherwise.
        self._packer = new_packer()
        self._timeout: float | None = None

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: dict[str, Any]) -> None:
        try:
            body = self._packer.pack(message)
        except OverflowError:  # an integer past 64 bits: cut to an OSNumber's, as the kernel
            self._packer.reset()
            body = self._packer.pack(fit_integers(message))
        frame = _HEADER.pack(len(body)) + body
        try:
            self.sock.sendall(frame)
        except OSError as error:
            raise ChannelClosed(f"the peer is gone ({error.strerror or error})") from error

    def receive(self, timeout_s: float | None = None) -> dict[str, Any]:
        """The next message; waits at most ``timeout_s`` seconds (None: for ever)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self._queued:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ChannelTimeout(f"no reply within {timeout_s:g} s")
                self._wait_at_most(remaining)
            elif self._timeout is not None:
                self._wait_at_most(None)
            self._read_some(deadline, timeout_s)
        return self._queued.pop(0)

    def _wait_at_most(self, seconds: float | None) -> None:
        """Bound the next reads with ``SO_RCVTIMEO``: the kernel times a blocking ``recv``
        itself, one system call where a Python socket timeout makes two (poll, recv). Set
        only when the bound changes by more than a millisecond."""
        if seconds is not None and self._timeout is not None \
                and abs(self._timeout - seconds) < 1e-3:
            return
        whole = 0.0 if seconds is None else max(seconds, 1e-3)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                             _TIMEVAL.pack(int(whole), int((whole % 1) * 1e6)))
        self._timeout = seconds

    def call(self, message: dict[str, Any], timeout_s: float | None) -> dict[str, Any]:
        self.send(message)
        return self.receive(timeout_s)

    def close(self) -> None:
        self.sock.close()

    def _read_some(self, deadline: float | None, timeout_s: float | None) -> None:
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:  # SO_RCVTIMEO ran out
            if deadline is not None and time.monotonic() >= deadline - 1e-3:
                raise ChannelTimeout(f"no reply within {timeout_s:g} s") from None
            return
        except OSError as error:
            raise ChannelClosed(f"the peer is gone ({error.strerror or error})") from error
        if not data:
            raise ChannelClosed("the peer closed the connection")
        if not self._buffer and len(data) > _HEADER.size \
                and _HEADER.unpack_from(data)[0] == len(data) - _HEADER.size:
            # The usual case, one whole frame in one read: decode it in place.
            self._queued.append(self._decode(data))
            return
        buffer = self._buffer
        buffer += data
        while len(buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer)
            if size > MAX_FRAME:
                raise ChannelClosed(f"unreadable frame: {size} bytes is over the limit of "
                                    f"{MAX_FRAME}")
            end = _HEADER.size + size
            if len(buffer) < end:
                break
            self._queued.append(self._decode(bytes(buffer[:end])))
            del buffer[:end]

    def _decode(self, frame: bytes) -> dict[str, Any]:
        try:
            message = msgpack.unpackb(memoryview(frame)[_HEADER.size:], raw=False,
                                      ext_hook=ext_hook, strict_map_key=True)
        except Exception as error:
            raise ChannelClosed(f"unreadable frame: {error}") from error
        if not isinstance(message, dict):
            raise ChannelClosed(f"unreadable frame: a message is a map, not "
                                f"{type(message).__name__}")
        return message
