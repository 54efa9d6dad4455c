"""The main port against a running kernel: what a program is told when a request cannot be
sent, and that the connection still serves it afterwards."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from iokit_sdk.iokitlib import (
    IOConnectCallScalarMethod,
    IONotificationPortDispatch,
    IOObjectRelease,
    IOServiceGetMatchingService,
    IOServiceGetMatchingServices,
    IOServiceMatching,
    IOServiceOpen,
    KernelConnectionError,
    MainPort,
    io_connect_t,
    mach_task_self,
)
from iokit_sdk.iokitlib.notify import IONotificationPort
from iokit_sdk.returns import IOReturn, IOReturnError
from kernelkit import KernelFactory, KernelProcess, kernel, kernel_factory, kext_dist, short_dir

__all__ = ["kernel", "kernel_factory", "kext_dist"]  # the fixtures this module uses


def test_a_value_with_no_wire_form_is_a_bad_argument_and_the_port_goes_on(
        kernel: KernelProcess) -> None:
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        with pytest.raises(IOReturnError) as raised:
            port.request("call", connect=int(connect), selector=1 << 70, scalars=[],
                         struct=b"", scalar_out=0, struct_out=0)
        assert raised.value.code == IOReturn.BAD_ARGUMENT
        assert "cannot be sent to the kernel" in str(raised.value)
        assert IOConnectCallScalarMethod(connect, 3, [40, 2], 1) == (42,)


def test_releases_waiting_for_a_request_that_could_not_be_sent_go_with_the_next(
        kernel: KernelProcess) -> None:
    """An iterator released (IOKitLib's ``mach_port_deallocate``: carried by the next
    request) before a request with no wire form stayed held until the connection ended."""
    with MainPort(kernel.path) as port:
        iterator = IOServiceGetMatchingServices(port, IOServiceMatching("IOService"))
        handle = int(iterator)
        IOObjectRelease(iterator)  # waits for the next request
        with pytest.raises(IOReturnError):
            IOServiceGetMatchingServices(port, {"IOProviderClass": "IOService", "x": 1 << 70})
        IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))  # carries them
        with pytest.raises(IOReturnError) as gone:
            port.call("retain", object=handle)
        assert gone.value.code == IOReturn.BAD_ARGUMENT


def test_a_kernel_that_went_away_is_a_connection_error(kernel_factory: KernelFactory) -> None:
    kernel = kernel_factory.start()
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        assert IOConnectCallScalarMethod(connect, 3, [1, 1], 1) == (2,)
        kernel.kill()
        with pytest.raises(KernelConnectionError) as raised:
            for _ in range(3):  # the first send may still be taken by the dead socket
                IOConnectCallScalarMethod(connect, 3, [1, 1], 1)
        assert raised.value.reference == "kernel-gone"


# -- a kernel gone wrong: a real process on a real socket that answers hello, then misbehaves
_FAKE_KERNEL = r"""
import socket, struct, sys, time
import msgpack
path, mode = sys.argv[1], sys.argv[2]
listener = socket.socket(socket.AF_UNIX)
listener.bind(path)
listener.listen(1)
print("ready", flush=True)
conn, _ = listener.accept()

def read_frame():
    head = b""
    while len(head) < 4:
        head += conn.recv(4 - len(head))
    (size,) = struct.unpack(">I", head)
    body = b""
    while len(body) < size:
        body += conn.recv(size - len(body))
    if body[:1] == b"\xc1":  # a call frame (iokit_sdk.iokitlib.callframe): its id will do
        return {"id": struct.unpack_from(">I", body, 2)[0]}
    return msgpack.unpackb(body)

def send(message):
    body = msgpack.packb(message)
    conn.sendall(struct.pack(">I", len(body)) + body)

hello = read_frame()
send({"id": hello["id"], "ret": 0, "protocol": "iokit", "version": hello["version"],
      "kernel_pid": 1, "client_pid": 2})
if mode == "badnotes":  # notifications whose fields make no sense, then a good one
    for note in ({"kind": "async", "reference": [0, "x"]},
                 {"kind": "interest", "notification": "x", "message": 1},
                 {"kind": "dropped", "count": "many"},
                 {"kind": "async", "reference": [0, 1, 0], "result": 0, "args": [7]}):
        send({"port": 9, **note})
    conn.recv(1)
    sys.exit()
if mode == "shutdown":  # a stopping kernel: its note, then closed before the next request
    sys.stdin.readline()  # once the client is past its hello
    send({"kind": "shutdown"})
    conn.close()
    print("closed", flush=True)
    import signal
    signal.pause()
request = read_frame()
if mode == "trickle":  # a frame that never ends, one byte at a time
    conn.sendall(struct.pack(">I", 1 << 20))
    while True:
        conn.sendall(b"\x00")
        time.sleep(0.01)
elif mode == "notes":  # notifications as fast as the socket takes them, never the reply
    body = msgpack.packb({"port": 9, "kind": "matching", "objects": []})
    block = (struct.pack(">I", len(body)) + body) * 10000
    while True:
        conn.sendall(block)
elif mode == "garbled":
    send({"id": request["id"], "ret": "all good"})
elif mode == "badscalars":
    send({"id": request["id"], "ret": 0, "scalars": "one, two", "struct": b""})
elif mode == "garbage":
    conn.sendall(struct.pack(">I", 12) + b"\xc1" * 12)
elif mode == "huge":
    conn.sendall(struct.pack(">I", 0xFFFFFFFF))
elif mode == "half":
    body = msgpack.packb({"id": request["id"], "ret": 0, "objects": [1, 2, 3]})
    conn.sendall(struct.pack(">I", len(body)) + body[: len(body) // 2])
    conn.close()
# "silent": never answers
conn.recv(1)
"""


@contextmanager
def _running_fake(mode: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The fake kernel in ``mode``, listening: the process and its socket's path."""
    directory = short_dir()
    path = str(Path(directory) / "k.sock")
    proc = subprocess.Popen([sys.executable, "-c", _FAKE_KERNEL, path, mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        yield proc, path
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        Path(path).unlink(missing_ok=True)
        Path(directory).rmdir()


@pytest.fixture
def fake_kernel(request: pytest.FixtureRequest) -> Iterator[str]:
    with _running_fake(request.param) as (_, path):
        yield path


@pytest.mark.parametrize(("fake_kernel", "reference", "code"), [
    ("trickle", "kernel-timeout", IOReturn.TIMEOUT),
    ("notes", "kernel-timeout", IOReturn.TIMEOUT),
    ("silent", "kernel-timeout", IOReturn.TIMEOUT),
    ("garbled", "kernel-garbled", IOReturn.IPC_ERROR),
    ("garbage", "kernel-gone", IOReturn.NOT_RESPONDING),
    ("huge", "kernel-gone", IOReturn.NOT_RESPONDING),
    ("half", "kernel-gone", IOReturn.NOT_RESPONDING),
], indirect=["fake_kernel"])
def test_a_kernel_gone_wrong_is_an_ioreturn_error_in_time(fake_kernel: str, reference: str,
                                                         code: int) -> None:
    with MainPort(fake_kernel, timeout=1.0) as port:
        start = time.monotonic()
        with pytest.raises(KernelConnectionError) as raised:
            port.call("class", object=1)
        # The wait ends at the port's timeout, however the kernel keeps the socket busy
        # (generous: a loaded machine; a port that ignored its timeout waited 15 s here).
        assert time.monotonic() - start < 5.0
    assert (raised.value.reference, raised.value.code) == (reference, code), raised.value


@pytest.mark.parametrize("fake_kernel", ["garbled", "badscalars"], indirect=True)
def test_a_garbled_reply_to_a_call_is_an_ioreturn_error(fake_kernel: str) -> None:
    with MainPort(fake_kernel, timeout=1.0) as port, \
            pytest.raises(KernelConnectionError) as raised:
        IOConnectCallScalarMethod(io_connect_t(5, port), 0, [], 2)
    assert raised.value.reference == "kernel-garbled"
    assert raised.value.code == IOReturn.IPC_ERROR
    assert "reply to call is garbled" in str(raised.value)


@pytest.mark.parametrize("fake_kernel", ["badnotes"], indirect=True)
def test_garbled_notifications_are_skipped_and_counted_the_others_delivered(
        fake_kernel: str) -> None:
    with MainPort(fake_kernel, timeout=1.0) as port:
        notification_port = IONotificationPort(port, 9)
        got: list[tuple[object, int, tuple[int, ...]]] = []
        token = notification_port.async_token(lambda *call: got.append(call), "refcon")
        assert token == 1  # what the good note's reference names
        delivered = 0
        while delivered == 0:  # until the good one (the last the kernel sends) is in
            delivered += IONotificationPortDispatch(notification_port, 1.0)
        assert got == [("refcon", 0, (7,))]
        assert notification_port.garbled == 3 and notification_port.dropped == 0


def test_a_call_sent_after_the_kernel_said_it_is_shutting_down_and_closed_says_so() -> None:
    """The kernel tells each client it is shutting down, then closes: a call sent after the
    close fails to send, and reads the note then (not "the kernel went away")."""
    with _running_fake("shutdown") as (proc, path), MainPort(path, timeout=5.0) as port:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("go\n")  # past the hello: the kernel stops
        proc.stdin.flush()
        assert proc.stdout.readline() == "closed\n"
        for _ in range(3):
            with pytest.raises(KernelConnectionError) as raised:
                IOConnectCallScalarMethod(io_connect_t(5, port), 0, [], 1)
            assert raised.value.reference == "kernel-gone"
            assert "the kernel is shutting down" in str(raised.value)
