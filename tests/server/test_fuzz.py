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
from iokit_sdk.iokitlib.callframe import CALL, MARK
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
                          "target", "protocol", "version", "first", "source", "after",
                          "limit"])
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


# -- well-formed requests on the session's own objects ---------------------------------------
# Random fields mostly miss what an op needs and stop at its argument checks. These requests
# are what a program sends (each op's fields, of their types), on the handles this session
# was really given (services, connections, notification ports, iterators' objects), with
# now and then one field replaced by a hostile value or another handle: the deep paths
# (opening, calling, notifying, releasing what is in use) meet each other's leftovers.
_HANDLE_KINDS = ("objects", "connect", "port")
#: The TestUCDriver services a session found: what opens succeed on.
_DRIVERS = "drivers"


#: Calls that fit the test kext's dispatch table (selector: scalars in, struct in, scalars
#: out, struct out), and calls that miss it by one count.
_CALLS = st.one_of(
    st.builds(lambda value: {"selector": 0, "scalars": [value], "struct": b"", "scalar_out": 0,
                             "struct_out": 0}, st.integers(0, (1 << 64) - 1)),
    st.just({"selector": 1, "scalars": [], "struct": b"", "scalar_out": 1, "struct_out": 0}),
    st.builds(lambda data: {"selector": 2, "scalars": [], "struct": data, "scalar_out": 0,
                            "struct_out": 0xFFFFFFFF}, st.binary(max_size=64)),
    st.builds(lambda a, b: {"selector": 3, "scalars": [a, b], "struct": b"", "scalar_out": 1,
                            "struct_out": 0}, st.integers(0, 99), st.integers(0, 99)),
    st.builds(lambda selector: {"selector": selector, "scalars": [], "struct": b"",
                                "scalar_out": 0, "struct_out": 0}, st.integers(5, 9)),
    st.builds(lambda offset, value: {"selector": 8, "scalars": [offset, value], "struct": b"",
                                     "scalar_out": 0, "struct_out": 0},
              st.integers(0, 5000), st.integers(0, 255)),
    st.builds(lambda selector, count: {"selector": selector, "scalars": [0] * count,
                                       "struct": b"", "scalar_out": count, "struct_out": 0},
              st.integers(0, 9), st.integers(0, 3)))


def _well_formed(draw: Any, op: str, handle: Any) -> dict[str, Any]:
    kinds = {
        "open": lambda: {"service": handle(_DRIVERS), "type": draw(st.integers(0, 3))},
        "close": lambda: {"connect": handle("connect")},
        "call": lambda: {"connect": handle("connect"), **draw(_CALLS)},
        "map_memory": lambda: {"connect": handle("connect"), "type": draw(st.integers(0, 1))},
        "get_matching": lambda: {"matching": {"IOProviderClass": draw(st.sampled_from(
            ["IOService", "TestUCDriver", "IOUserClient"]))}, "single": draw(st.booleans())},
        "port_create": dict,
        "port_destroy": lambda: {"port": handle("port")},
        "add_matching": lambda: {"port": handle("port"), "type": draw(st.sampled_from(
            ["IOServiceFirstMatch", "IOServiceMatched", "IOServiceTerminate"])),
            "matching": {"IOProviderClass": "IOService"}},
        "add_interest": lambda: {"port": handle("port"), "service": handle("objects"),
                                 "type": "IOGeneralInterest"},
        "retain": lambda: {"object": handle("objects")},
        "release": lambda: {"objects": [handle("objects")]},
        "properties": lambda: {"object": handle("objects")},
        "parent": lambda: {"object": handle("objects"), "plane": "IOService"},
        "children": lambda: {"object": handle("objects"), "plane": "IOService"},
        "pm_assertion_create": lambda: {"type": "PreventUserIdleSystemSleep", "name": "fuzz",
                                        "level": 255},
        "pm_assertion_release": lambda: {"assertion_id": draw(st.integers(0, 40))},
    }
    return {"op": op, **kinds[op]()}


@_SETTINGS
@given(data=st.data())
def test_well_formed_requests_on_real_handles_get_an_ioreturn(
        kernel: KernelProcess, witness: tuple[MainPort, io_connect_t], data: Any) -> None:
    handles: dict[str, list[int]] = {kind: [] for kind in (*_HANDLE_KINDS, _DRIVERS)}

    def handle(kind: str) -> int:
        pool = handles[kind] or [0]
        return data.draw(st.sampled_from(pool * 4 + [pool[0] + 1, 0]), label=kind)

    with socket.socket(socket.AF_UNIX) as sock:
        reader, handles[_DRIVERS] = _session(kernel, sock)
        ops = ["open", "port_create", *data.draw(st.lists(
            st.sampled_from(["open", "close", "call", "map_memory", "get_matching",
                             "port_create", "port_destroy", "add_matching", "add_interest",
                             "retain", "release", "properties", "parent", "children",
                             "pm_assertion_create", "pm_assertion_release"]),
            min_size=1, max_size=16))]
        for number, op in enumerate(ops, start=1):
            request = _well_formed(data.draw, op, handle)
            if data.draw(st.sampled_from([False] * 4 + [True])):  # now and then a field goes bad
                field = data.draw(st.sampled_from(sorted(set(request) - {"op"}) or ["x"]))
                request[field] = data.draw(values)
            answer = reader.ask(_frame({**request, "id": number}))
            if answer is None or "fatal" in answer:
                break
            assert isinstance(answer.get("ret", 0), int), (request, answer)
            for kind in _HANDLE_KINDS:
                found = answer.get(kind)
                found = found if isinstance(found, list) else [found]
                handles[kind] += [h for h in found if isinstance(h, int) and h > 0]
    _still_served(kernel, witness, len(ops))
    assert "kernel-request-failed" not in kernel.stderr()


def _session(kernel: KernelProcess, sock: socket.socket) -> tuple[_Replies, list[int]]:
    """A raw session on ``sock`` that said hello: its reader, and the TestUCDriver services
    it found (what opens succeed on)."""
    sock.connect(kernel.path)
    sock.settimeout(30)
    reader = _Replies(sock)
    reader.ask(_HELLO)
    drivers = reader.ask(_frame({"op": "get_matching", "id": 1, "single": True,
                                 "matching": {"IOProviderClass": "TestUCDriver"}}))
    assert drivers is not None
    return reader, list(drivers["objects"])


class _Replies:
    """One request at a time on a raw socket: its reply (notifications are passed over)."""

    def __init__(self, sock: socket.socket) -> None:
        from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader

        self.sock = sock
        self.reader = FrameReader(MAX_KERNEL_FRAME)
        self.pending: list[dict[str, Any]] = []

    def ask(self, frame: bytes) -> dict[str, Any] | None:
        self.sock.sendall(frame)
        while True:
            while self.pending:
                message = self.pending.pop(0)
                if "id" in message or "fatal" in message:
                    return message
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                return None
            self.pending.extend(self.reader.feed(chunk))


# -- call frames (iokit_sdk.iokitlib.callframe) on a connection the session opened ----------
def _call_frame(draw: Any, request_id: int, connect: int) -> bytes:
    """A call frame as a program could send it: a real call now and then, any counts, and now
    and then cut short, its count lying, or its handle another."""
    call = draw(_CALLS)
    scalars = call["scalars"] + draw(st.lists(st.integers(0, (1 << 64) - 1), max_size=2))
    body = struct.pack(">BBIIIBBq", MARK, CALL, request_id,
                       draw(st.sampled_from([connect] * 6 + [0, connect + 1])),
                       call["selector"], draw(st.sampled_from([len(scalars)] * 4 + [17, 255])),
                       draw(st.sampled_from([call["scalar_out"]] * 4 + [17, 255])),
                       draw(st.sampled_from([call["struct_out"]] * 4 + [-(1 << 63), -4])))
    body += b"".join(struct.pack(">Q", value) for value in scalars) + call["struct"]
    body += draw(st.sampled_from([b""] * 3 + [bytes(8 * 17), bytes(8 * 255 + 3)]))  # trailing
    if not draw(st.integers(0, 5)):  # cut short
        body = body[:draw(st.integers(0, len(body) - 1))]
    return struct.pack(">I", len(body)) + body


@_SETTINGS
@given(data=st.data(), together=st.booleans())
def test_call_frames_on_a_real_connection_get_an_ioreturn_or_a_closed_connection(
        kernel: KernelProcess, witness: tuple[MainPort, io_connect_t], data: Any,
        together: bool) -> None:
    """One at a time (each read alone: the front end's one-request round) or all at once (its
    usual round): each answer is an IOReturn, in a call frame or a map, or the connection is
    closed for a bad frame."""
    with socket.socket(socket.AF_UNIX) as sock:
        reader, drivers = _session(kernel, sock)
        opened = reader.ask(_frame({"op": "open", "id": 2, "service": drivers[0], "type": 0}))
        assert opened is not None and isinstance(opened["connect"], int)
        frames = [_call_frame(data.draw, number, opened["connect"])
                  for number in range(3, 3 + data.draw(st.integers(1, 8)))]
        answers: list[dict[str, Any] | None] = []
        with contextlib.suppress(OSError):  # the kernel may close on us mid-way
            if together:
                sock.sendall(b"".join(frames))
                sock.shutdown(socket.SHUT_WR)
                answers = list(_read_all(sock))
            else:
                for frame in frames:
                    answers.append(reader.ask(frame))
                    if answers[-1] is None or "fatal" in answers[-1]:
                        break
        for answer in answers:
            assert answer is None or answer.get("fatal") == "frame-malformed" \
                or isinstance(answer.get("ret"), int), answer
    _still_served(kernel, witness, len(frames))
    assert "kernel-request-failed" not in kernel.stderr()
