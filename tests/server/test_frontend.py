"""The running kernel as a process: its ready line, its socket, its clients, its shutdown."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from iokit_sdk.iokitlib import (
    IOConnectMapMemory,
    IONotificationPortCreate,
    IONotificationPortDispatch,
    IOReturnError,
    IOServiceGetMatchingService,
    IOServiceMatching,
    IOServiceOpen,
    KernelConnectionError,
    MainPort,
    ProtocolVersionError,
    mach_task_self,
)
from iokit_sdk.iokitlib.connect import IOConnectCallAsyncScalarMethod, IOConnectCallScalarMethod
from iokit_sdk.iokitlib.wire import PROTOCOL_VERSION
from kernelkit import KernelFactory, KernelProcess, kernel_env, run_client, short_dir


def test_ready_line_then_sigterm_shuts_down_with_status_0(kernel_factory: KernelFactory) -> None:
    kernel = kernel_factory.start()
    mode = stat.S_IMODE(os.stat(kernel.path).st_mode)
    assert mode == 0o600
    assert kernel.stop(signal.SIGTERM) == 0
    assert kernel.stdout_rest() == ""  # exactly one line on stdout: the ready line
    assert not os.path.exists(kernel.path)
    assert "shut down:" in kernel.stderr()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_sigint_or_sighup_tells_clients_and_closes_their_user_clients(
        kernel_factory: KernelFactory, sig: signal.Signals) -> None:
    kernel = kernel_factory.start()
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        assert kernel.stop(sig) == 0
        assert "1 client(s) told, 1 user client(s) closed" in kernel.stderr()
        with pytest.raises(KernelConnectionError):
            IOConnectCallScalarMethod(connect, 1, [], 1)
    assert not os.path.exists(kernel.path)  # SIGHUP too: no stale socket left behind


def test_the_default_socket_is_per_user_and_private(kernel_factory: KernelFactory) -> None:
    runtime = short_dir()
    kernel_factory.dirs.append(runtime)
    expected = os.path.join(runtime, "iokit", "kernel.sock")
    env = kernel_env(kernel_factory.kext_dist, XDG_RUNTIME_DIR=runtime)
    kernel = kernel_factory.start(path=expected, socket_option=False, env=env)
    assert stat.S_IMODE(os.stat(os.path.dirname(expected)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(expected).st_mode) == 0o600
    # A client finds it the same way, with nothing configured but the environment.
    found = run_client("from iokit_sdk.iokitlib import *\n"
                       "print(IOObjectGetClass(IOServiceGetMatchingService(0, "
                       "IOServiceMatching('TestUCDriver'))))", kernel,
                       env={**env, "IOKIT_KERNEL": ""})
    assert found.stdout.strip() == "TestUCDriver", found.stderr
    assert kernel.stop() == 0


def test_group_shares_the_socket_0660(kernel_factory: KernelFactory) -> None:
    kernel = kernel_factory.start("--group", str(os.getgid()))
    info = os.stat(kernel.path)
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert info.st_gid == os.getgid()


def test_a_second_kernel_on_a_live_socket_is_refused(kernel: KernelProcess,
                                                     kernel_factory: KernelFactory) -> None:
    second = kernel_factory.start(path=kernel.path, wait=False)
    assert second.proc.wait(timeout=60) == 1
    assert "another iokit kernel is listening" in second.stderr()
    with MainPort(kernel.path) as port:
        assert port.kernel_pid == kernel.pid  # the first one still serves


def test_a_stale_socket_file_is_replaced(kernel_factory: KernelFactory) -> None:
    directory = short_dir()
    kernel_factory.dirs.append(directory)
    path = os.path.join(directory, "k.sock")
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(path)  # bound, never listening: what a killed kernel leaves
    dead.close()
    kernel = kernel_factory.start(path=path)
    with MainPort(kernel.path) as port:
        assert port.kernel_pid == kernel.pid


def test_a_version_mismatch_is_a_clear_error_on_both_sides(kernel: KernelProcess) -> None:
    with pytest.raises(ProtocolVersionError) as raised:
        MainPort(kernel.path, version=PROTOCOL_VERSION + 1)
    text = str(raised.value)
    assert f"version {PROTOCOL_VERSION}" in text and f"version {PROTOCOL_VERSION + 1}" in text
    assert "protocol-version-mismatch" in kernel.stderr()
    with MainPort(kernel.path) as port:
        assert port.kernel_pid == kernel.pid


def test_a_tool_without_a_kernel_says_where_it_looked() -> None:
    result = subprocess.run([sys.executable, "-m", "iokit_host", "ioreg", "--kernel",
                             "/nonexistent/k.sock"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 1
    assert "kernel-unreachable" in result.stderr and "/nonexistent/k.sock" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_slow_client_loses_notifications_not_the_kernels_time(kernel: KernelProcess) -> None:
    with MainPort(kernel.path) as slow:
        service = IOServiceGetMatchingService(slow, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        port = IONotificationPortCreate(slow)
        values: list[int] = []
        reference = [0, lambda refcon, result, args: values.append(args[0]), None]
        IOConnectCallAsyncScalarMethod(connect, 4, port, reference, [], 0)  # then never read
        # Another process makes the driver notify the slow client far more than it can hold.
        busy = run_client(
            "from iokit_sdk.iokitlib import *\n"
            "s = IOServiceGetMatchingService(0, IOServiceMatching('TestUCDriver'))\n"
            "c = IOServiceOpen(s, mach_task_self(), 0)\n"
            "for i in range(6000):\n    IOConnectCallScalarMethod(c, 0, [i], 0)\n"
            "print(IOConnectCallScalarMethod(c, 1, [], 1)[0])\n", kernel)
        assert busy.stdout.strip() == "5999", busy.stderr
        while IONotificationPortDispatch(port, 1.0):
            pass
        assert port.dropped > 0
        assert len(values) + port.dropped == 6000  # each one delivered or counted
        assert values == sorted(values) and values[0] == 0  # in order, oldest kept


def test_many_clients_at_once_get_their_own_replies(kernel: KernelProcess) -> None:
    code = ("import os, sys\nfrom iokit_sdk.iokitlib import *\n"
            "s = IOServiceGetMatchingService(0, IOServiceMatching('TestUCDriver'))\n"
            "c = IOServiceOpen(s, mach_task_self(), 0)\n"
            "n = int(sys.argv[1])\n"
            "for i in range(300):\n"
            "    (r,) = IOConnectCallScalarMethod(c, 3, [n, i], 1)\n"
            "    assert r == n + i, (n, i, r)\n"
            "print('ok')\n")
    env = dict(os.environ, IOKIT_KERNEL=kernel.path)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(n * 1000)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(6)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [out.strip() for out, _ in outputs] == ["ok"] * 6, outputs


def test_the_kernel_log_names_a_failing_driver_method(kernel: KernelProcess) -> None:
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        with pytest.raises(IOReturnError, match="kIOReturnInternalError"):
            IOConnectCallScalarMethod(connect, 6, [], 0)
    assert "user-client-method-raised" in Path(kernel.log).read_text(encoding="utf-8")


def test_requests_before_a_bad_frame_are_answered_then_the_client_is_told(
        kernel: KernelProcess) -> None:
    from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader, pack

    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(60)
        sock.connect(kernel.path)
        sock.sendall(pack({"op": "hello", "id": 0, "protocol": "iokit",
                           "version": PROTOCOL_VERSION})
                     + pack({"op": "no-such-op", "id": 7})
                     + b"\x00\x00\x00\x05\xdf\xff\xff\xff\xff")  # a map of 2**32 entries
        reader = FrameReader(MAX_KERNEL_FRAME)
        messages: list[dict[str, object]] = []
        while data := sock.recv(4096):
            messages += reader.feed(data)
    assert [m.get("id") for m in messages[:2]] == [0, 7]
    assert messages[1]["ret"] == IOReturnError(0xE00002C7).code  # kIOReturnUnsupported
    assert messages[2]["fatal"] == "frame-malformed" and "max_map_len" in str(messages[2])
    assert len(messages) == 3


def test_a_client_asking_for_memory_and_never_reading_holds_few_descriptors(
        kernel: KernelProcess) -> None:
    from iokit_sdk.iokitlib.wire import pack

    from iokit_host.server.session import FD_REPLY_LIMIT

    def descriptors() -> int:
        return len(os.listdir(f"/proc/{kernel.pid}/fd"))

    with MainPort(kernel.path) as greedy:
        service = IOServiceGetMatchingService(greedy, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        IOConnectMapMemory(connect, 0, mach_task_self()).close()  # the memory exists now
        before = descriptors()
        frames = b"".join(pack({"op": "map_memory", "id": 1000 + i, "connect": int(connect),
                                "type": 0}) for i in range(5000))
        sock = greedy._sock
        sock.setblocking(False)
        sent = 0
        with contextlib.suppress(BlockingIOError):  # until the kernel stops reading it
            while sent < len(frames):
                sent += sock.send(frames[sent:])
        # The kernel stops serving it once its unread replies hold FD_REPLY_LIMIT
        # descriptors; it serves everybody else meanwhile (each of whose rounds would have
        # served some of the greedy client's requests, had it gone on).
        with MainPort(kernel.path) as witness:
            for _ in range(300):
                assert witness.request("no-such-op")["ret"] == 0xE00002C7
            assert descriptors() <= before + FD_REPLY_LIMIT + 1  # + the witness's socket
        assert kernel.proc.poll() is None, kernel.stderr()


def test_a_client_pipelining_thousands_of_requests_gets_every_reply_in_order(
        kernel: KernelProcess) -> None:
    """More requests at once than the kernel reads ahead (its inbox is bounded): it stops
    reading that socket, serves, and reads again, without losing its place."""
    import threading

    from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader, pack

    count = 5000
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(60)
        sock.connect(kernel.path)
        frames = pack({"op": "hello", "id": 0, "protocol": "iokit",
                       "version": PROTOCOL_VERSION})
        frames += b"".join(pack({"op": "no-such-op", "id": i}) for i in range(1, count + 1))
        sender = threading.Thread(target=sock.sendall, args=(frames,))
        sender.start()
        reader = FrameReader(MAX_KERNEL_FRAME)
        ids: list[object] = []
        while len(ids) <= count and (data := sock.recv(1 << 16)):
            ids += [m.get("id") for m in reader.feed(data)]
        sender.join()
    assert ids == list(range(count + 1)), kernel.stderr()[-2000:]
    assert kernel.proc.poll() is None


def test_sigterm_while_clients_are_mid_call_tells_each_of_them(
        kernel_factory: KernelFactory) -> None:
    kernel = kernel_factory.start()
    code = ("import sys\nfrom iokit_sdk.iokitlib import *\n"
            "s = IOServiceGetMatchingService(0, IOServiceMatching('TestUCDriver'))\n"
            "c = IOServiceOpen(s, mach_task_self(), 0)\n"
            "print('calling', flush=True)\n"
            "try:\n"
            "    while True:\n"
            "        IOConnectCallScalarMethod(c, 3, [1, 2], 1)\n"
            "except KernelConnectionError as error:\n"
            "    print(error.reference, error, flush=True)\n")
    env = dict(os.environ, IOKIT_KERNEL=kernel.path)
    callers = [subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for _ in range(8)]
    for caller in callers:
        assert caller.stdout is not None and caller.stdout.readline() == "calling\n"
    assert kernel.stop() == 0
    outputs = [caller.communicate(timeout=120) for caller in callers]
    # Each was told, as it waited for a reply, that the kernel is shutting down (not a
    # connection reset, and no traceback).
    for out, err in outputs:
        assert out.startswith("kernel-gone ") and "the kernel is shutting down" in out, (out, err)
        assert err == ""
    assert "8 client(s) told, 8 user client(s) closed" in kernel.stderr()


def test_a_client_that_shuts_its_sending_side_gets_every_reply_then_eof(
        kernel: KernelProcess) -> None:
    import threading

    from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader, pack

    count = 3000
    frames = pack({"op": "hello", "id": 0, "protocol": "iokit", "version": PROTOCOL_VERSION})
    frames += b"".join(pack({"op": "no-such-op", "id": i}) for i in range(1, count + 1))

    def send_then_shut(sock: socket.socket) -> None:
        sock.sendall(frames)
        sock.shutdown(socket.SHUT_WR)  # done sending; still reading

    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(60)
        sock.connect(kernel.path)
        sender = threading.Thread(target=send_then_shut, args=(sock,))
        sender.start()
        reader = FrameReader(MAX_KERNEL_FRAME)
        ids: list[object] = []
        while data := sock.recv(1 << 16):  # until the kernel closes, having answered all
            ids += [m.get("id") for m in reader.feed(data)]
        sender.join()
    assert ids == list(range(count + 1))


def test_another_client_is_served_between_one_client_s_pipelined_long_requests(
        kernel: KernelProcess) -> None:
    """A session's requests served in a row stop after a slice of time (_SLICE_S), not only
    after 32 of them: 32 pipelined requests of 0.1 s each held another client back 3 s.
    Client A pipelines 16 listings of the 4,096 assertions after its first (a few ms
    each); client B's assertion, made meanwhile, is in some of A's replies."""
    import threading

    from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader, pack

    count, listings = 4096, 16
    with socket.socket(socket.AF_UNIX) as sock, MainPort(kernel.path) as witness:
        sock.settimeout(60)
        sock.connect(kernel.path)
        reader = FrameReader(MAX_KERNEL_FRAME)

        def replies(wanted: int) -> list[dict[str, object]]:
            got: list[dict[str, object]] = []
            while len(got) < wanted and (data := sock.recv(1 << 20)):
                got += reader.feed(data)
            return got
        sock.sendall(pack({"op": "hello", "id": 0, "protocol": "iokit",
                           "version": PROTOCOL_VERSION}) + b"".join(
            pack({"op": "pm_assertion_create", "id": i, "type": "PreventSystemSleep",
                  "name": "a", "level": 255}) for i in range(1, count + 1)))
        made = replies(count + 1)[1:]
        assert all(m["ret"] == 0 for m in made)
        after = made[0]["assertion_id"]
        listed: list[dict[str, object]] = []
        taker = threading.Thread(target=lambda: listed.extend(replies(listings)))
        taker.start()  # A reads as it goes: its replies never back up
        sock.sendall(b"".join(pack({"op": "pm_assertions", "id": 10_000 + i, "after": after})
                              for i in range(listings)))
        mine = witness.call("pm_assertion_create", type="PreventSystemSleep", level=255,
                            name="B")["assertion_id"]
        taker.join(60)
    assert len(listed) == listings
    seen = [any(a["assertion_id"] == mine for a in reply["assertions"]) for reply in listed]
    assert any(seen), "B's request waited for every one of A's"
