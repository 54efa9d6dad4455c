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
import select
import selectors
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Self

import msgpack

from iokit_sdk.iokitlib.errors import KernelConnectionError, ProtocolVersionError, send_cause
from iokit_sdk.iokitlib.method_call import MethodCalls
from iokit_sdk.iokitlib.wire import (
    MAX_KERNEL_FRAME,
    PROTOCOL,
    PROTOCOL_VERSION,
    FrameError,
    FrameReader,
    kernel_socket_path,
)
from iokit_sdk.returns import IOReturn, IOReturnError
from iokit_sdk.wirecodec import HEADER, default

__all__ = ["DEFAULT_TIMEOUT_S", "KernelConnectionError", "MainPort", "ProtocolVersionError"]

#: How long a request waits for its reply; a kernel abandons a hung driver call after 10 s.
DEFAULT_TIMEOUT_S = 60.0
_RECV = 1 << 16
#: Reads one ``wait`` makes after the first, taking what has already arrived.
_MORE_READS = 256
#: Handles :meth:`MainPort.release_later` keeps for the next request at most (the kernel
#: takes at most 4,096 in one).
_RELEASE_LATER = 4096
#: Descriptors one read takes (a reply passes one: ``map_memory``'s memory).
_MAX_FDS = 4
_HEADER_SIZE = HEADER.size
_unpack_header = HEADER.unpack_from
_unpackb = msgpack.unpackb
#: Bodies under this size are decoded inline (larger ones by FrameReader.decode, which
#: pauses the garbage collector for them).
_SMALL = 1 << 16

Note = dict[str, Any]
#: What a call is told once the kernel said it is shutting down (its ``shutdown`` note).
_SHUTTING_DOWN = "the kernel is shutting down"


class MainPort(MethodCalls):
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
        #: The reader's bytes that do not yet make a whole frame (the same bytearray).
        self._unread = self._reader.unread
        self._ext_hook = self._reader.ext_hook
        self._packer = msgpack.Packer(default=default, strict_types=True, use_bin_type=True)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._replies: dict[int, dict[str, Any]] = {}
        #: Handles to release with the next request (:meth:`release_later`).
        self._unreleased: list[int] = []
        self._queues: dict[int, deque[Note]] = {}
        self.on_unrouted: Callable[[Note], None] | None = None
        self.closed_reason: str | None = None
        self._sock = _connect(self.path, timeout)
        self._selector = selectors.DefaultSelector()  # poll-based: any descriptor number
        self._selector.register(self._sock, selectors.EVENT_READ)
        self._poll = select.poll()  # what a reply is waited for with (_receive_reply)
        self._poll.register(self._sock.fileno(), select.POLLIN)
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
        return self.request_with(op, fields)

    def request_with(self, op: str, fields: dict[str, Any]) -> dict[str, Any]:
        """:meth:`request` with the fields in a dictionary (which becomes the message)."""
        with self._lock:
            request_id = self._send(op, fields)
            if self._unread:
                return self._reply(request_id, None, False)
            data = self._read_now()
            return self._reply(request_id, data, data is None)

    def send(self, op: str, **fields: Any) -> int:
        """Send one request without waiting for its reply; its id, for :meth:`receive`. (A
        client may send several requests before reading replies: the kernel answers them in
        order, so a tool asks for the next part of something while it reads the last.)"""
        with self._lock:
            return self._send(op, fields)

    def receive(self, request_id: int) -> dict[str, Any]:
        """The reply to the request :meth:`send` sent as ``request_id``, waited for up to the
        timeout (``ret`` is the IOReturn, not raised)."""
        with self._lock:
            if request_id in self._replies:
                return self._replies.pop(request_id)
            if self._unread:
                return self._reply(request_id, None, False)
            data = self._read_now()
            return self._reply(request_id, data, data is None)

    def _read_now(self) -> bytes | None:
        """Wait for the next bytes (``poll``, then one read): None when nothing came within
        the timeout. (A ``recv`` blocked on the socket is woken each time the kernel reads a
        request of ours, as the socket's sender, and sleeps again: ``poll`` sleeps until
        there is something to read.)"""
        try:
            return self._sock.recv(_RECV) if self._poll.poll(self.timeout * 1e3) else None
        except BlockingIOError:  # SO_RCVTIMEO passed without data
            return None
        except (OSError, ValueError) as error:  # ValueError: the socket is closed
            raise self._lost(f"the kernel went away ({error})") from error

    def _reply(self, request_id: int, data: bytes | None, waited: bool) -> dict[str, Any]:
        """The reply to ``request_id``, given the bytes already read since it was sent (None:
        none yet): routing whatever else comes meanwhile, until the timeout. ``waited``: the
        first read waited the whole timeout already, and nothing came."""
        deadline = time.monotonic() + (0.0 if waited else self.timeout)
        if data is not None:
            size = len(data) - _HEADER_SIZE
            if 0 < size <= MAX_KERNEL_FRAME and _unpack_header(data)[0] == size:
                message = None
                if size < _SMALL:
                    try:  # FrameReader.decode's common case, without its call
                        message = _unpackb(data[_HEADER_SIZE:], raw=False,
                                           ext_hook=self._ext_hook, strict_map_key=True)
                    except Exception:  # noqa: BLE001 - decode says what is wrong
                        message = None
                if type(message) is not dict:
                    message = self._decode(data[_HEADER_SIZE:])
                if message.get("id") == request_id and "fatal" not in message:
                    return message
                self._route(message)
            else:
                self._absorb(data)
        replies = self._replies
        while request_id not in replies:
            if self.closed_reason is not None:  # told the kernel is shutting down
                raise self._lost(self.closed_reason)
            reply = self._receive_reply(deadline, request_id)
            if reply is not None:
                return reply
            if request_id not in replies and time.monotonic() >= deadline:
                # Bytes kept coming (notifications, or a kernel trickling a frame), but
                # not the reply: the wait is over all the same.
                raise self._timed_out()
        return replies.pop(request_id)

    def _decode(self, body: bytes) -> dict[str, Any]:
        """One frame's body as its message; a frame that is not a message ends the
        connection."""
        try:
            return self._reader.decode(body)
        except FrameError as error:
            raise self._lost(f"the kernel sent a bad frame: {error}") from error

    def request_fds(self, op: str, **fields: Any) -> tuple[dict[str, Any], list[int]]:
        """:meth:`request` for a reply that passes file descriptors (``SCM_RIGHTS``): the
        reply and the descriptors that came with it, now the caller's to close."""
        with self._lock:
            request_id = self._send(op, fields)
            deadline = time.monotonic() + self.timeout
            fds: list[int] = []
            try:
                while request_id not in self._replies:
                    if self.closed_reason is not None:  # told the kernel is shutting down
                        raise self._lost(self.closed_reason)
                    self._receive_with_fds(deadline, fds)
                    if request_id not in self._replies and time.monotonic() >= deadline:
                        raise self._timed_out()
            except BaseException:
                _close_all(fds)
                raise
            return self._replies.pop(request_id), fds

    def _send(self, op: str, fields: dict[str, Any]) -> int:
        """Frame and send one request (the lock held); its id."""
        if self.closed_reason is not None:
            raise KernelConnectionError(self.closed_reason, reference="kernel-gone")
        request_id = next(self._ids)
        fields["op"], fields["id"] = op, request_id
        unreleased = self._unreleased
        if unreleased:
            fields["release_first"] = unreleased
        packer = self._packer
        try:
            body = packer.pack(fields)
            if unreleased:  # carried now; a request that cannot be packed leaves them waiting
                self._unreleased = []
            self._sock.sendall(HEADER.pack(len(body)) + body)
        except BaseException as error:  # noqa: BLE001 - re-raised as what the caller is told
            raise self._send_failed(op, error) from send_cause(error)
        return request_id

    def _send_failed(self, op: str, error: BaseException) -> BaseException:
        """What the caller is told when a request could not be sent."""
        self._packer.reset()  # what a failed pack left in the packer's buffer goes
        if isinstance(error, OSError):
            self._read_refusal()  # a kernel that refused us said why before it closed
            return self._lost(self.closed_reason  # told it was shutting down, then closed
                              or f"the kernel went away ({error.strerror or error})")
        if isinstance(error, (OverflowError, TypeError, ValueError)):
            # A value with no wire form (an integer past 64 bits, an object msgpack cannot
            # carry): nothing was sent, and the caller is told as IOKitLib tells a bad
            # argument, not with the codec's own exception.
            return IOReturnError(IOReturn.BAD_ARGUMENT,
                                 f"{op}: a value cannot be sent to the kernel ({error})")
        return error

    def release_later(self, handles: list[int]) -> None:
        """Release ``handles`` with the next request (its ``release_first``), as
        ``mach_port_deallocate`` releases a right without a message to IOKit: the kernel
        drops them before it serves that request, so nothing this program asks next can
        see them held (a method call's frame does not carry them: they wait for the next
        other request, or the connection's end). Past :data:`_RELEASE_LATER` of them,
        released now."""
        with self._lock:
            self._unreleased.extend(handles)
            if len(self._unreleased) > _RELEASE_LATER:
                unreleased, self._unreleased = self._unreleased, []
                for start in range(0, len(unreleased), _RELEASE_LATER):
                    self.call("release", objects=unreleased[start:start + _RELEASE_LATER])

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """:meth:`request`, raising :class:`IOReturnError` for a failing IOReturn."""
        return self.call_with(op, fields)

    def call_with(self, op: str, fields: dict[str, Any]) -> dict[str, Any]:
        """:meth:`call` with the fields in a dictionary (which becomes the message)."""
        reply = self.request_with(op, fields)
        code = reply.get("ret", IOReturn.SUCCESS)
        if type(code) is not int:  # a kernel (or something posing as one) gone wrong
            raise self.garbled(op, "ret", code)
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
    def _receive_reply(self, deadline: float, request_id: int) -> dict[str, Any] | None:
        """Wait for the reply with ``poll``, then read once. (A ``recv`` blocked on the socket
        is woken each time the kernel reads a request of ours, as the socket's sender, and
        sleeps again: ``poll`` sleeps until there is something to read.) Returns the reply to
        ``request_id`` when the read was exactly that one frame (the common case, taken
        without queueing it), else None after routing what came."""
        try:
            if not self._poll.poll(max(deadline - time.monotonic(), 0.0) * 1e3):
                if time.monotonic() < deadline:
                    return None
                raise KernelConnectionError(
                    f"the kernel did not answer within {self.timeout:g} s",
                    reference="kernel-timeout", code=IOReturn.TIMEOUT)
            data = self._sock.recv(_RECV)
        except BlockingIOError:  # SO_RCVTIMEO passed without data
            return None
        except (OSError, ValueError) as error:  # ValueError: the socket is already closed
            raise self._lost(f"the kernel went away ({error})") from error
        reader = self._reader
        if len(data) > HEADER.size and not reader.pending:
            (size,) = HEADER.unpack_from(data)
            if size == len(data) - HEADER.size and size <= reader.limit:  # one whole frame
                try:
                    message = reader.decode(data[HEADER.size:])
                except FrameError as error:
                    raise self._lost(f"the kernel sent a bad frame: {error}") from error
                if message.get("id") == request_id and "fatal" not in message:
                    return message
                self._route(message)
                return None
        self._absorb(data)
        return None

    def _receive_with_fds(self, deadline: float, fds: list[int]) -> None:
        """:meth:`_receive_reply`, keeping the descriptors that come (``recvmsg``: a plain
        ``recv`` would make the kernel close them)."""
        try:
            data, received, _flags, _address = socket.recv_fds(self._sock, _RECV, _MAX_FDS)
        except BlockingIOError:
            if time.monotonic() < deadline:
                return
            raise KernelConnectionError(
                f"the kernel did not answer within {self.timeout:g} s",
                reference="kernel-timeout", code=IOReturn.TIMEOUT) from None
        except (OSError, ValueError) as error:
            raise self._lost(f"the kernel went away ({error})") from error
        fds.extend(received)
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
        """Read what the kernel sent before closing: raises its refusal if there is one, and
        notes its shutdown (:attr:`closed_reason`) if it said so."""
        try:
            readable = self._selector.select(1.0)
            data = self._sock.recv(_RECV) if readable else b""
            messages = self._reader.feed(data) if data else []
        except (OSError, ValueError, FrameError):
            return
        for message in messages:
            if "fatal" in message:
                raise self._refused(message)
            if message.get("kind") == "shutdown":
                self.closed_reason = _SHUTTING_DOWN

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
            self.closed_reason = _SHUTTING_DOWN
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

    def garbled(self, op: str, key: str, value: object) -> KernelConnectionError:
        """What the caller is told when the kernel's reply to ``op`` holds a ``key`` that
        makes no sense (a kernel gone wrong, or something posing as one)."""
        shown = repr(value)
        shown = shown if len(shown) <= 40 else shown[:39] + "…"
        return KernelConnectionError(f"the kernel's reply to {op} is garbled: {key!r} is "
                                     f"{shown}", reference="kernel-garbled",
                                     code=IOReturn.IPC_ERROR)

    def _timed_out(self) -> KernelConnectionError:
        return KernelConnectionError(f"the kernel did not answer within {self.timeout:g} s",
                                     reference="kernel-timeout", code=IOReturn.TIMEOUT)

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
        if isinstance(error, PermissionError):  # a kernel is there: its socket refuses us
            raise KernelConnectionError(
                f"the iokit kernel at {path} does not admit this user: {reason} (its socket "
                "is its owner's; ask who runs it for --group, or run as its user)"
            ) from error
        raise KernelConnectionError(
            f"no iokit kernel at {path}: {reason} (start one with 'iokit kernel', or point "
            "IOKIT_KERNEL at its socket)") from error
    return sock


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _program_name() -> str:
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "python"
    return os.path.basename(argv0) or "python"

