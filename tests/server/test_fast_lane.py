"""The front end's one-request round, seen from clients of a running kernel: whatever a round
serves directly, what the usual round does still happens (other clients' notifications are
written, the log comes before the reply, frames split or joined on the wire are all served)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from iokit_sdk.iokitlib import (
    IONotificationPortCreate,
    IONotificationPortDispatch,
    IOReturnError,
    IOServiceGetMatchingService,
    IOServiceMatching,
    IOServiceOpen,
    MainPort,
    mach_task_self,
)
from iokit_sdk.iokitlib.connect import IOConnectCallAsyncScalarMethod, IOConnectCallScalarMethod
from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, PROTOCOL_VERSION, FrameReader, pack
from iokit_sdk.returns import IOReturn
from kernelkit import KernelFactory, KernelProcess


def test_a_call_that_notifies_another_client_reaches_it_at_once(kernel: KernelProcess) -> None:
    with MainPort(kernel.path) as watcher, MainPort(kernel.path) as writer:
        service = IOServiceGetMatchingService(watcher, IOServiceMatching("TestUCDriver"))
        watching = IOServiceOpen(service, mach_task_self(), 0)
        port = IONotificationPortCreate(watcher)
        values: list[int] = []
        reference = [0, lambda refcon, result, args: values.append(args[0]), None]
        IOConnectCallAsyncScalarMethod(watching, 4, port, reference, [], 0)
        writing = IOServiceOpen(IOServiceGetMatchingService(writer, IOServiceMatching(
            "TestUCDriver")), mach_task_self(), 0)
        IOConnectCallScalarMethod(writing, 0, [7], 0)  # the driver notifies the watcher
        # The writer's one request made a notification for the watcher: it is written now,
        # not when something else happens to wake the kernel.
        assert IONotificationPortDispatch(port, 10.0)
        assert values == [7]


def test_the_log_line_of_a_failing_method_is_written_before_its_reply(
        kernel: KernelProcess) -> None:
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        with pytest.raises(IOReturnError, match="kIOReturnInternalError"):
            IOConnectCallScalarMethod(connect, 6, [], 0)
        assert "user-client-method-raised" in Path(kernel.log).read_text(encoding="utf-8")
        assert IOConnectCallScalarMethod(connect, 3, [1, 2], 1) == (3,)  # and it goes on


class _RawClient:
    """The protocol spoken by hand, to put frames on the wire as a program could."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.reader = FrameReader(MAX_KERNEL_FRAME)
        self.pending: list[dict[str, Any]] = []

    def receive(self, count: int) -> list[dict[str, Any]]:
        while len(self.pending) < count:
            data = self.sock.recv(65536)
            assert data, "the kernel closed the connection"
            self.pending.extend(self.reader.feed(data))
        taken, self.pending = self.pending[:count], self.pending[count:]
        return taken

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        self.sock.sendall(pack(message))
        return self.receive(1)[0]


def _call(request_id: int, connect: int, a: int, b: int) -> bytes:
    return pack({"op": "call", "id": request_id, "connect": connect, "selector": 3,
                 "scalars": [a, b], "struct": b"", "scalar_out": 1, "struct_out": 0})


def test_requests_split_or_joined_on_the_wire_are_each_answered(kernel: KernelProcess) -> None:
    client = _RawClient(kernel.path)
    try:
        assert client.ask({"op": "hello", "id": 0, "protocol": "iokit",
                           "version": PROTOCOL_VERSION})["ret"] == 0
        found = client.ask({"op": "get_matching", "id": 1, "single": True,
                            "matching": {"IOProviderClass": "TestUCDriver"}})
        connect = client.ask({"op": "open", "id": 2, "service": found["objects"][0],
                              "type": 0})["connect"]
        client.sock.sendall(_call(10, connect, 1, 2) + _call(11, connect, 3, 4))  # joined
        assert [(r["id"], r["scalars"]) for r in client.receive(2)] == [(10, [3]), (11, [7])]
        frame = _call(12, connect, 5, 6)
        client.sock.sendall(frame[:7])  # split: the kernel may read the halves apart
        client.sock.sendall(frame[7:])
        assert [(r["id"], r["scalars"]) for r in client.receive(1)] == [(12, [11])]
        unknown = client.ask({"op": "call", "id": 13, "connect": connect + 4, "selector": 3,
                              "scalars": [1, 2], "struct": b"", "scalar_out": 1,
                              "struct_out": 0})
        assert (unknown["id"], unknown["ret"]) == (13, IOReturn.BAD_ARGUMENT)  # unknown handle
        assert client.ask({"op": "call", "id": 14, "connect": connect, "selector": 3,
                           "scalars": [2, 2], "struct": b"", "scalar_out": 1,
                           "struct_out": 0})["scalars"] == [4]
    finally:
        client.sock.close()


BUSY = """
from iokit_sdk.iokitlib import *
c = IOServiceOpen(IOServiceGetMatchingService(0, IOServiceMatching("TestUCDriver")),
                  mach_task_self(), 0)
IOConnectCallScalarMethod(c, 0, [1], 0)
print("calling", flush=True)
n = 1
while True:  # the driver's value counts its calls
    n += 1
    IOConnectCallScalarMethod(c, 0, [n], 0)
"""


@contextmanager
def _one_cpu(*pids: int) -> Iterator[None]:
    """This process, its children from now on, and ``pids`` on one CPU: a client's next
    request is then always there before the kernel waits (the kernel reads it ahead)."""
    allowed = os.sched_getaffinity(0)
    cpu = {min(allowed)}
    os.sched_setaffinity(0, cpu)
    for pid in pids:
        os.sched_setaffinity(pid, cpu)
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


def test_a_client_calling_without_pause_holds_back_no_other_client_nor_a_stop(
        kernel_factory: KernelFactory) -> None:
    kernel = kernel_factory.start()
    with _one_cpu(kernel.pid):
        busy = subprocess.Popen([sys.executable, "-c", BUSY], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True,
                                env={**os.environ, "IOKIT_KERNEL": kernel.path})
        try:
            assert busy.stdout is not None and busy.stdout.readline().strip() == "calling"
            with MainPort(kernel.path, timeout=20.0) as port:
                connect = IOServiceOpen(IOServiceGetMatchingService(
                    port, IOServiceMatching("TestUCDriver")), mach_task_self(), 0)
                (before,) = IOConnectCallScalarMethod(connect, 1, [], 1)
                answers = [IOConnectCallScalarMethod(connect, 3, [n, 1], 1) for n in range(200)]
                (after,) = IOConnectCallScalarMethod(connect, 1, [], 1)
            # A client's requests are read one after another without waiting; the other's
            # still get their turn, both ways (a starved call would time out: an error).
            assert answers == [(n + 1,) for n in range(200)]
            assert after > before  # the busy client went on calling meanwhile
            assert busy.poll() is None
            assert kernel.stop() == 0  # SIGTERM is heard between its requests too
        finally:
            busy.kill()
            busy.wait()
            if busy.stdout is not None:
                busy.stdout.close()


def test_a_method_dropping_the_standard_streams_leaves_the_kernel_its_output(
        kernel_factory: KernelFactory) -> None:
    """A call served by the one-request round is checked as a work-loop job is: the kernel
    puts the streams back and names the driver, the next call is answered and the kernel
    stops cleanly (it ended in a traceback, the driver unnamed)."""
    kernel = kernel_factory.start()
    with MainPort(kernel.path) as port:
        connect = IOServiceOpen(IOServiceGetMatchingService(
            port, IOServiceMatching("TestUCDriver")), mach_task_self(), 0)
        assert IOConnectCallScalarMethod(connect, 10, [0x57D_0FF_57D], 0) == ()
        assert IOConnectCallScalarMethod(connect, 3, [40, 2], 1) == (42,)
    assert kernel.stop() == 0
    log = kernel.stderr()
    assert "warning[driver-changed-host]: driver code run in TestUserClient" in log
    assert "while serving a client's call request" in log
    assert "Traceback" not in log and "stray-exception" not in log
    assert "shut down:" in log
