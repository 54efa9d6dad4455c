"""Hostile bytes and hostile requests on the kernel socket: the kernel answers with an IOReturn
or closes that connection, never crashes, and another client never notices."""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iokit_sdk.iokitlib import (
    IOConnectCallScalarMethod,
    IOServiceGetMatchingService,
    IOServiceMatching,
    IOServiceOpen,
    MainPort,
    io_connect_t,
    mach_task_self,
)
from iokit_sdk.iokitlib.wire import PROTOCOL, PROTOCOL_VERSION, pack
from kernelkit import KernelProcess

from iokit_host.server.requests import OPS

_SETTINGS = settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])
_HELLO = pack({"op": "hello", "id": 0, "protocol": PROTOCOL, "version": PROTOCOL_VERSION})

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 63), (1 << 64) - 1) | st.floats()
    | st.text(max_size=20) | st.binary(max_size=64),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                   max_size=5),
    max_leaves=20)
fields = st.sampled_from(["id", "op", "object", "objects", "service", "connect", "selector",
                          "scalars", "struct", "scalar_out", "struct_out", "port", "reference",
                          "matching", "type", "plane", "key", "class", "single", "events",
                          "target", "protocol", "version"])
requests = st.fixed_dictionaries(
    {"op": st.sampled_from(sorted(OPS)) | st.text(max_size=8), "id": values}
).flatmap(lambda base: st.dictionaries(fields, values, max_size=6).map(
    lambda extra: {**extra, **base}))


@pytest.fixture(scope="module")
def witness(kernel: KernelProcess) -> Iterator[tuple[MainPort, io_connect_t]]:
    """A well-behaved client that checks, after each hostile one, that it is still served."""
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        yield port, IOServiceOpen(service, mach_task_self(), 0)


def _still_served(kernel: KernelProcess, witness: tuple[MainPort, io_connect_t],
                  value: int) -> None:
    assert kernel.proc.poll() is None, kernel.stderr()
    _, connect = witness
    assert IOConnectCallScalarMethod(connect, 3, [value, 1], 1) == (value + 1,)


def _send(path: str, data: bytes) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        with contextlib.suppress(OSError):  # the kernel may close on us mid-way
            sock.sendall(data)


def _frame(message: Any) -> bytes:
    body = msgpack.packb(message, use_bin_type=True)
    return struct.pack(">I", len(body)) + body


@_SETTINGS
@given(data=st.binary(max_size=4096))
def test_random_bytes_never_crash_the_kernel(kernel: KernelProcess,
                                             witness: tuple[MainPort, io_connect_t],
                                             data: bytes) -> None:
    _send(kernel.path, data)
    _still_served(kernel, witness, len(data))


@_SETTINGS
@given(messages=st.lists(values, max_size=4), hello=st.booleans())
def test_random_frames_never_crash_the_kernel(kernel: KernelProcess,
                                              witness: tuple[MainPort, io_connect_t],
                                              messages: list[Any], hello: bool) -> None:
    _send(kernel.path, (_HELLO if hello else b"") + b"".join(_frame(m) for m in messages))
    _still_served(kernel, witness, len(messages))


@_SETTINGS
@given(batch=st.lists(requests, min_size=1, max_size=6))
def test_random_requests_get_an_ioreturn_or_a_closed_connection(
        kernel: KernelProcess, witness: tuple[MainPort, io_connect_t],
        batch: list[dict[str, Any]]) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(kernel.path)
        sock.settimeout(30)
        with contextlib.suppress(OSError):
            sock.sendall(_HELLO + b"".join(_frame(m) for m in batch))
            sock.shutdown(socket.SHUT_WR)
            answers = _read_all(sock)
            for answer in answers[1:]:  # after the hello's
                assert "fatal" in answer or isinstance(answer.get("ret"), int), answer
    _still_served(kernel, witness, len(batch))
    assert "kernel-request-failed" not in kernel.stderr()  # no request hit a kernel bug


def _read_all(sock: socket.socket) -> list[dict[str, Any]]:
    from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader

    reader = FrameReader(MAX_KERNEL_FRAME)
    answers: list[dict[str, Any]] = []
    while chunk := sock.recv(1 << 16):
        answers.extend(reader.feed(chunk))
    return answers


def test_an_oversized_frame_closes_only_that_connection(
        kernel: KernelProcess, witness: tuple[MainPort, io_connect_t]) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(kernel.path)
        sock.sendall(_HELLO + struct.pack(">I", 1 << 30))
        answers = _read_all(sock)
    assert answers[-1]["fatal"] == "frame-too-large"
    _still_served(kernel, witness, 7)
