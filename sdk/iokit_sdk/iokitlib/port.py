"""The main port: one process's connection to a running kernel (``kIOMainPortDefault``).

IOKitLib sends every request on the task's IOKit main port and receives notifications on the
ports the program creates. Here one :class:`MainPort` is one ``AF_UNIX`` connection to an
``iokit kernel``: it says hello (the protocol version), sends requests and waits for their
replies; notifications that arrive meanwhile are kept for their notification port, as Mach
keeps messages queued on a port until the program receives them.
"""

from __future__ import annotations

import itertools
import os
import selectors
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Self

from iokit_sdk.iokitlib.wire import (
    MAX_KERNEL_FRAME,
    PROTOCOL,
    PROTOCOL_VERSION,
    FrameError,
    FrameReader,
    kernel_socket_path,
    pack,
)
from iokit_sdk.returns import IOReturn, IOReturnError

__all__ = ["DEFAULT_TIMEOUT_S", "KernelConnectionError", "MainPort", "ProtocolVersionError"]

#: How long a request waits for its reply; a kernel abandons a hung driver call after 10 s.
DEFAULT_TIMEOUT_S = 60.0
_RECV = 1 << 16
#: Reads one ``wait`` makes after the first, taking what has already arrived.
_MORE_READS = 256

Note = dict[str, Any]


class KernelConnectionError(IOReturnError):
    """The kernel cannot be reached, refused this process, or went away.

    :param reference: ``kernel-unreachable``, ``kernel-refused``, ``kernel-gone``,
        ``kernel-timeout`` or ``protocol-version-mismatch``.
    """

    def __init__(self, message: str, *, reference: str = "kernel-unreachable",
                 code: int = IOReturn.NOT_RESPONDING) -> None:
        self.reference = reference
        super().__init__(code, message)


class ProtocolVersionError(KernelConnectionError):
    """The kernel speaks another version of the protocol."""


class MainPort:
    """A connection to the kernel listening on ``path`` (``$IOKIT_KERNEL``, else the per-user
    default socket).

    :param client: the name the kernel logs this client by (default: the program's name).
    :param timeout: seconds a request waits for its reply.
    :raises KernelConnectionError: nothing listens there, or the kernel refused us.
    """

    def __init__(self, path: str | None = None, *, client: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S, version: int = PROTOCOL_VERSION) -> None:
        self.path = kernel_socket_path(path)
        self.timeout = timeout
        self.pid = os.getpid()
        self._reader = FrameReader(MAX_KERNEL_FRAME)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._replies: dict[int, dict[str, Any]] = {}
        self._queues: dict[int, deque[Note]] = {}
        self.on_unrouted: Callable[[Note], None] | None = None
        self.closed_reason: str | None = None
        self._sock = _connect(self.path, timeout)
        self._selector = selectors.DefaultSelector()  # poll-based: any descriptor number
        self._selector.register(self._sock, selectors.EVENT_READ)
        try:
            hello = self.request("hello", protocol=PROTOCOL, version=version,
                                 client=client or _program_name())
        except BaseException:
            self._shut("the handshake failed")
            raise
        self.kernel_pid = hello.get("kernel_pid")
        self.kernel_version = hello.get("version")
        if self.kernel_version != version:
            self._shut("protocol version mismatch")
            raise ProtocolVersionError(
                f"the kernel at {self.path} speaks protocol version {self.kernel_version}, "
                f"this client {version}: use an iokit-sdk that matches the running iokit-host",
                reference="protocol-version-mismatch", code=IOReturn.UNSUPPORTED)

    # -- requests ------------------------------------------------------------------------
    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request and return its reply (``ret`` is the IOReturn, not raised)."""
        with self._lock:
            if self.closed_reason is not None:
                raise KernelConnectionError(self.closed_reason, reference="kernel-gone")
            request_id = next(self._ids)
            try:
                self._sock.sendall(pack({"op": op, "id": request_id, **fields}))
            except OSError as error:
                self._read_refusal()  # a kernel that refused us said why before it closed
                raise self._lost(f"the kernel went away ({error.strerror or error})") from error
            deadline = time.monotonic() + self.timeout
            while request_id not in self._replies:
                self._receive_reply(deadline)
            return self._replies.pop(request_id)

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """:meth:`request`, raising :class:`IOReturnError` for a failing IOReturn."""
        reply = self.request(op, **fields)
        code = reply.get("ret", IOReturn.SUCCESS)
        if code != IOReturn.SUCCESS:
            message = reply.get("message")
            raise IOReturnError(code, message if isinstance(message, str) else None)
        return reply

    # -- notifications -------------------------------------------------------------------
    def queue_for(self, port: int) -> deque[Note]:
        """The messages received for notification port ``port``, oldest first."""
        return self._queues.setdefault(port, deque())

    def forget_queue(self, port: int) -> None:
        self._queues.pop(port, None)

    def wait(self, timeout: float | None) -> None:
        """Receive whatever arrives within ``timeout`` seconds (None: until something does),
        then whatever else is already there."""
        with self._lock:
            deadline = None if timeout is None else time.monotonic() + timeout
            if self._receive(deadline, quiet_timeout=True):
                for _ in range(_MORE_READS):
                    if not self._receive(time.monotonic(), quiet_timeout=True):
                        break

    # -- the socket ----------------------------------------------------------------------
    def _receive_reply(self, deadline: float) -> None:
        """Read once, waiting for the reply in ``recv`` itself: one system call per read (the
        socket's ``SO_RCVTIMEO`` bounds the wait) where a ``select`` first would take two."""
        try:
            data = self._sock.recv(_RECV)
        except BlockingIOError:  # SO_RCVTIMEO passed without data
            if time.monotonic() < deadline:
                return
            raise KernelConnectionError(
                f"the kernel did not answer within {self.timeout:g} s",
                reference="kernel-timeout", code=IOReturn.TIMEOUT) from None
        except (OSError, ValueError) as error:  # ValueError: the socket is already closed
            raise self._lost(f"the kernel went away ({error})") from error
        self._absorb(data)

    def _receive(self, deadline: float | None, *, quiet_timeout: bool = False) -> bool:
        """Read once, waiting until ``deadline``; False when nothing came in time."""
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        try:
            readable = self._selector.select(remaining)
            data = self._sock.recv(_RECV) if readable else None
        except (OSError, ValueError) as error:  # ValueError: the socket is already closed
            raise self._lost(f"the kernel went away ({error})") from error
        if data is None:
            if quiet_timeout:
                return False
            raise KernelConnectionError(
                f"the kernel did not answer within {self.timeout:g} s",
                reference="kernel-timeout", code=IOReturn.TIMEOUT)
        self._absorb(data)
        return True

    def _absorb(self, data: bytes) -> None:
        if not data:
            raise self._lost("the kernel closed the connection")
        try:
            messages = self._reader.feed(data)
        except FrameError as error:
            raise self._lost(f"the kernel sent a bad frame: {error}") from error
        for message in messages:
            self._route(message)

    def _read_refusal(self) -> None:
        """Read what the kernel sent before closing; raises its refusal if there is one."""
        try:
            readable = self._selector.select(1.0)
            data = self._sock.recv(_RECV) if readable else b""
            messages = self._reader.feed(data) if data else []
        except (OSError, ValueError, FrameError):
            return
        for message in messages:
            if "fatal" in message:
                raise self._refused(message)

    def _route(self, message: dict[str, Any]) -> None:
        if "fatal" in message:
            raise self._refused(message)
        request_id = message.get("id")
        if isinstance(request_id, int):
            self._replies[request_id] = message
            return
        port = message.get("port")
        if isinstance(port, int):
            self.queue_for(port).append(message)
        elif message.get("kind") == "shutdown":
            self.closed_reason = "the kernel is shutting down"
        elif self.on_unrouted is not None:
            self.on_unrouted(message)

    def _refused(self, message: dict[str, Any]) -> KernelConnectionError:
        reference = str(message.get("fatal"))
        text = str(message.get("message", "the kernel refused this client"))
        self._shut(text)
        if reference == "protocol-version-mismatch":
            return ProtocolVersionError(text, reference=reference, code=IOReturn.UNSUPPORTED)
        return KernelConnectionError(text, reference="kernel-refused",
                                     code=IOReturn.NOT_PERMITTED)

    def _lost(self, text: str) -> KernelConnectionError:
        self._shut(text)
        return KernelConnectionError(text, reference="kernel-gone")

    def _shut(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
        self._selector.close()
        self._sock.close()

    def close(self) -> None:
        """Drop the connection; the kernel then closes whatever this process left open."""
        with self._lock:
            self._shut("the connection was closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect(path: str, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    seconds = min(max(timeout, 0.001), 1e6)  # a reply's wait, bounded in recv itself
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                    struct.pack("ll", int(seconds), int(seconds % 1 * 1e6)))
    try:
        sock.connect(path)
    except OSError as error:
        sock.close()
        reason = error.strerror or type(error).__name__
        raise KernelConnectionError(
            f"no iokit kernel at {path}: {reason} (start one with 'iokit kernel', or point "
            "IOKIT_KERNEL at its socket)") from error
    return sock


def _program_name() -> str:
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "python"
    return os.path.basename(argv0) or "python"
