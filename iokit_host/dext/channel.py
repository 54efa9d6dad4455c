"""A request/reply channel with deadlines: the IORPC message's place between kernel and dext.

Both ends speak the running kernel's framing (:mod:`iokit_sdk.iokitlib.wire`: length-prefixed
msgpack maps, encoded by :mod:`iokit_host.dext.codec`) on one ``AF_UNIX`` stream socket. A read waits at most until its deadline, in
real time, because the peer is a real process: the host clock only moves when someone moves
it. The peer closing its end (it exited, was killed, crashed) is :class:`ChannelClosed`.

A frame may carry file descriptors (``SCM_RIGHTS``, as a Mach message carries a memory entry's
port): :meth:`Channel.send` passes them, and a channel told to :attr:`~Channel.accept_fds`
keeps those it receives for :meth:`Channel.take_fd`; one that is not told drops them unread
(the socket layer closes them). :meth:`Channel.drain` reads what has arrived without waiting,
for the messages a peer sends on its own (an async completion while the kernel is idle).
"""

from __future__ import annotations

import os
import socket
import struct
import time
from typing import Any

import msgpack
from iokit_sdk.wirecodec import gc_paused

from iokit_host.dext.codec import HEADER, ext_hook, fit_integers, new_packer

__all__ = ["DRIVER_FRAME", "MAX_CONTAINERS", "MAX_FRAME", "Channel", "ChannelClosed",
           "ChannelTimeout"]

#: The largest frame either end reads (the kernel socket's ``MAX_KERNEL_FRAME``).
MAX_FRAME = 256 << 20
#: The largest frame the kernel reads from a driver process: what it sends is replies and
#: property values (memory travels as descriptors), and what msgpack builds of a frame may
#: be 70 times its size (an array of empty maps).
DRIVER_FRAME = 64 << 20
#: A frame larger than this has its arrays and maps counted as they are built: at most
#: :data:`MAX_CONTAINERS` (a 256 MiB frame of empty maps built 18 GB of them).
_COUNTED = 1 << 20
MAX_CONTAINERS = 1 << 20
#: Reads one :meth:`Channel.drain` makes at most (of 64 KiB each).
_DRAIN_READS = 16
#: The most descriptors one read accepts; more are cut off by the socket layer and closed.
MAX_FDS = 4
_HEADER = HEADER
_TIMEVAL = struct.Struct("@ll")
#: Read by the driver-call watchdog (:mod:`iokit_host.kernel.watchdog`): a driver call it
#: abandons while the kernel blocks here for the process's reply ends here at once. Safe
#: because the kernel's readers (``DriverProcess.call`` and the launch's check-in) kill the
#: process that owes the reply when anything cuts their wait short.
DRIVER_WAITS = frozenset({"_read_some"})


class ChannelClosed(Exception):
    """The peer's end is closed, or what it sent cannot be read."""


class ChannelTimeout(Exception):
    """No reply before the deadline."""


class Channel:
    """One end of a socket carrying frames."""

    def __init__(self, sock: socket.socket, *, limit: int = MAX_FRAME) -> None:
        """``limit``: the largest frame read (the kernel reads a driver process's frames
        with :data:`DRIVER_FRAME`)."""
        sock.setblocking(True)
        self.sock = sock
        self.limit = limit
        self._buffer = bytearray()
        self._queued: list[dict[str, Any]] = []
        # One packer per channel, not one per message: a third of a forwarded call otherwise.
        self._packer = new_packer()
        self._timeout: float | None = None
        #: Keep the descriptors frames carry (else the socket layer closes them unread).
        self.accept_fds = False
        self._fds: list[int] = []
        #: The peer closed its end; set by :meth:`drain`, which still returns what came first.
        self.eof = False
        #: Why what the peer sent could not be read (it broke the protocol; it did not exit).
        self.garbled: str | None = None

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
        try:
            body = self._packer.pack(message)
        except OverflowError:  # an integer past 64 bits: cut to an OSNumber's, as the kernel
            self._packer.reset()
            body = self._packer.pack(fit_integers(message))
        frame = _HEADER.pack(len(body)) + body
        try:
            if fds:  # the descriptors ride on the frame's first bytes
                sent = socket.send_fds(self.sock, [frame], list(fds))
                if sent < len(frame):
                    self.sock.sendall(frame[sent:])
            else:
                self.sock.sendall(frame)
        except OSError as error:
            raise ChannelClosed(f"the peer is gone ({error.strerror or error})") from error

    def receive(self, timeout_s: float | None = None) -> dict[str, Any]:
        """The next message; waits at most ``timeout_s`` seconds (None: for ever)."""
        queued = self._queued
        if not queued and timeout_s is None and self._timeout is None:
            self._read_some(None, None)  # the driver process's wait for its next call
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not queued:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ChannelTimeout(f"no reply within {timeout_s:g} s")
                self._wait_at_most(remaining)
            elif self._timeout is not None:
                self._wait_at_most(None)
            self._read_some(deadline, timeout_s)
        return queued.pop(0)

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

    def drain(self) -> list[dict[str, Any]]:
        """The messages that have arrived, read without waiting, a megabyte's worth at most
        (a peer that sends without pause never holds its reader here: the rest is read on
        its next turn); sets :attr:`eof` when the peer closed its end (after returning what
        it sent before)."""
        for _ in range(_DRAIN_READS):
            if self.eof:
                break
            try:
                data = self._recv(socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            except OSError:
                self.eof = True
                break
            if not data:
                self.eof = True
                break
            try:
                self._take(data)
            except ChannelClosed:
                self.eof = True
                break
        queued = self._queued[:]
        self._queued.clear()  # the same list: a receive in progress holds it
        return queued

    def has_queued(self) -> bool:
        """Whole messages already read and not yet received."""
        return bool(self._queued)

    def take_fd(self) -> int | None:
        """The oldest descriptor received and not yet taken (the caller closes it)."""
        return self._fds.pop(0) if self._fds else None

    def close_fds(self) -> None:
        """Close the descriptors received that nobody took."""
        while self._fds:
            os.close(self._fds.pop())

    def close(self) -> None:
        self.close_fds()
        self.sock.close()

    def _recv(self, flags: int = 0) -> bytes:
        if not self.accept_fds:
            return self.sock.recv(1 << 16, flags)
        data, fds, _flags, _address = socket.recv_fds(self.sock, 1 << 16, MAX_FDS, flags)
        self._fds.extend(fds)
        return data

    def _read_some(self, deadline: float | None, timeout_s: float | None) -> None:
        try:
            data = self.sock.recv(1 << 16) if not self.accept_fds else self._recv()
        except BlockingIOError:  # SO_RCVTIMEO ran out
            if deadline is not None and time.monotonic() >= deadline - 1e-3:
                raise ChannelTimeout(f"no reply within {timeout_s:g} s") from None
            return
        except OSError as error:
            raise ChannelClosed(f"the peer is gone ({error.strerror or error})") from error
        if not data:
            raise ChannelClosed("the peer closed the connection")
        self._take(data)

    def _take(self, data: bytes) -> None:
        """Queue the whole frames ``data`` completes."""
        if not self._buffer and len(data) > _HEADER.size \
                and _HEADER.unpack_from(data)[0] == len(data) - _HEADER.size:
            # The usual case, one whole frame in one read: decode it in place.
            self._queued.append(self._decode(data))
            return
        buffer = self._buffer
        buffer += data
        while len(buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer)
            if size > self.limit:
                raise self._unreadable(f"{size} bytes is over the limit of {self.limit}")
            end = _HEADER.size + size
            if len(buffer) < end:
                break
            self._queued.append(self._decode(bytes(buffer[:end])))
            del buffer[:end]

    def _decode(self, frame: bytes) -> dict[str, Any]:
        try:
            if len(frame) <= _COUNTED:
                message = msgpack.unpackb(memoryview(frame)[_HEADER.size:], raw=False,
                                          ext_hook=ext_hook, strict_map_key=True)
            else:
                message = _unpack_counted(memoryview(frame)[_HEADER.size:])
        except Exception as error:
            raise self._unreadable(str(error)) from error
        if not isinstance(message, dict):
            raise self._unreadable(f"a message is a map, not {type(message).__name__}")
        return message

    def _unreadable(self, why: str) -> ChannelClosed:
        self.garbled = why[:200]
        return ChannelClosed(f"unreadable frame: {self.garbled}")


def _unpack_counted(body: memoryview) -> Any:
    """``body`` decoded, refusing (``ValueError``) past :data:`MAX_CONTAINERS` arrays and
    maps: each costs 56 bytes or more however few it took on the wire."""
    left = MAX_CONTAINERS

    def counted(container: Any) -> Any:
        nonlocal left
        left -= 1
        if left < 0:
            raise ValueError(f"holds more than {MAX_CONTAINERS} arrays and maps")
        return container
    with gc_paused():
        return msgpack.unpackb(body, raw=False, ext_hook=ext_hook, strict_map_key=True,
                               list_hook=counted, object_hook=counted)
