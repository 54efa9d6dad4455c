"""Who may connect to the running kernel: another uid, a client past the descriptor limit and
a connection that never says hello are refused with a reason, and the others are served."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from iokit_sdk.iokitlib import (
    IOServiceGetMatchingService,
    IOServiceMatching,
    IOServiceOpen,
    MainPort,
    mach_task_self,
)
from iokit_sdk.iokitlib.connect import IOConnectCallScalarMethod
from iokit_sdk.iokitlib.wire import PROTOCOL_VERSION
from kernelkit import KernelFactory, kernel_env


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another uid")
def test_a_client_of_another_uid_is_refused(kernel_factory: KernelFactory) -> None:
    kernel = kernel_factory.start()
    # Open the path to everyone, so only the kernel's SO_PEERCRED check stands in the way.
    os.chmod(os.path.dirname(kernel.path), 0o755)
    os.chmod(kernel.path, 0o666)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.close(read)
        answer = b"?"
        try:
            os.setgid(65534)
            os.setuid(65534)
            answer = _hello_answer(kernel.path)
        except Exception as error:  # noqa: BLE001 - reported to the parent, which fails
            answer = repr(error).encode()
        finally:
            os.write(write, answer)
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read().decode()
    os.waitpid(child, 0)
    assert answer.startswith("peer-not-allowed: uid 65534 is not the kernel's"), answer
    assert "kernel-peer-refused" in kernel.stderr()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another uid")
def test_a_socket_that_refuses_the_user_is_not_called_no_kernel(
        kernel_factory: KernelFactory) -> None:
    """The 0600 socket refused another uid, and IOKitLib said "no iokit kernel at ... start
    one": there is one, and starting another would not help."""
    kernel = kernel_factory.start()
    os.chmod(os.path.dirname(kernel.path), 0o755)  # the socket itself stays its owner's
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.close(read)
        answer = "?"
        try:
            os.setgid(65534)
            os.setuid(65534)
            from iokit_sdk.iokitlib import MainPort
            MainPort(kernel.path).close()
            answer = "connected"
        except Exception as error:  # noqa: BLE001 - reported to the parent, which checks
            answer = str(error)
        finally:
            os.write(write, answer.encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read().decode()
    os.waitpid(child, 0)
    assert "does not admit this user" in answer and "no iokit kernel" not in answer, answer


def _hello_answer(path: str) -> bytes:
    """What the kernel answers a hello from this process: its refusal, or 'accepted'."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        return _hello_on(sock)


def test_clients_past_the_descriptor_limit_are_refused_and_the_others_served(
        kernel_factory: KernelFactory) -> None:
    kernel = kernel_factory.start(fd_limit=64)
    with MainPort(kernel.path) as witness:
        service = IOServiceGetMatchingService(witness, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        flood: list[socket.socket] = []
        refusal = b""
        try:
            while len(flood) < 200:  # far past what 64 descriptors allow
                flood.append(socket.socket(socket.AF_UNIX))
                flood[-1].connect(kernel.path)
            answers = [_hello_on(sock) for sock in flood]
            refusal = next(a for a in answers if a != b"accepted")
            # A tool meanwhile is told why, in one line with what to do, not "start a kernel".
            busy = subprocess.run([sys.executable, "-m", "iokit_host", "ioreg", "--kernel",
                                   kernel.path], capture_output=True, text=True, timeout=120,
                                  check=False)
            assert busy.returncode == 1 and "error[kernel-refused]" in busy.stderr, busy
            assert "at its client limit" in busy.stderr and "Traceback" not in busy.stderr
        finally:
            for sock in flood:
                sock.close()
        # Every client was answered (none left waiting in the backlog); those past the limit
        # were told why, and the kernel kept serving the one it had.
        assert refusal.startswith(b"peer-not-allowed: the kernel serves at most "), refusal
        assert b"ulimit -n 64" in refusal
        assert IOConnectCallScalarMethod(connect, 3, [41, 1], 1) == (42,)
    assert kernel.proc.poll() is None
    tools = subprocess.run([sys.executable, "-m", "iokit_host", "kextstat", "--kernel",
                            kernel.path], capture_output=True, text=True, timeout=120,
                           check=False)
    assert tools.returncode == 0, tools.stderr
    # A flood is logged in two lines (the first refusal, then the count), never one per
    # connection, and a tool reading the kernel does not list connection events.
    assert kernel.stop() == 0
    log = kernel.stderr()
    assert 1 <= log.count("kernel-peer-refused") <= 2, log[-3000:]
    assert "more client(s) while at the limit" in log
    assert "kernel-peer-refused" not in tools.stdout + tools.stderr


def _hello_on(sock: socket.socket) -> bytes:
    """What the kernel answers a hello on ``sock``: its refusal, or 'accepted'."""
    from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader, pack

    with contextlib.suppress(OSError):  # a refused peer may be closed before it writes
        sock.sendall(pack({"op": "hello", "id": 0, "protocol": "iokit",
                           "version": PROTOCOL_VERSION}))
    sock.settimeout(60)
    reader = FrameReader(MAX_KERNEL_FRAME)
    while not (messages := reader.feed(sock.recv(4096))):
        pass
    message = messages[0]
    if "fatal" in message:
        return f"{message['fatal']}: {message['message']}".encode()
    return b"accepted"


def test_connections_that_never_say_hello_are_closed_and_the_others_served(
        kernel_factory: KernelFactory, kext_dist: Path) -> None:
    kernel = kernel_factory.start(env=kernel_env(kext_dist, IOKIT_KERNEL_HELLO_TIMEOUT="0.5"))
    from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader

    silent, half = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX)
    with MainPort(kernel.path) as port, silent, half:  # the port said hello: it may idle
        silent.connect(kernel.path)
        half.connect(kernel.path)
        half.sendall(b"\x00\x00\x01")  # a frame's length begun, then nothing
        for sock in (silent, half):
            sock.settimeout(60)  # the kernel closes it well before
            reader, told = FrameReader(MAX_KERNEL_FRAME), []
            while chunk := sock.recv(4096):
                told += reader.feed(chunk)
            assert [m.get("fatal") for m in told] == ["kernel-hello-timeout"]
        # Idle for longer than the others had, the port is still served; new clients too.
        assert IOServiceGetMatchingService(port, IOServiceMatching("IOResources"))
        assert _hello_answer(kernel.path) == b"accepted"
    assert kernel.stderr().count("kernel-hello-timeout") == 2
