"""The kernel's socket file removed (or taken) while the kernel runs: the running kernel
notices, listens at the path again, and logs why; the clients it has are served throughout.
Real ``iokit kernel`` processes, real clients in other processes."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from kernelkit import KernelFactory, iokit, kernel_env, start_program, stop_program

#: How long the kernel may take to notice (it checks every 0.05 s here, IOKIT_KERNEL_SOCKET_CHECK).
DEADLINE_S = 30.0

CONNECTED = """
import sys
from iokit_sdk.iokitlib import IOServiceGetMatchingService, IOServiceMatching, MainPort
port = MainPort()
print("connected", flush=True)
sys.stdin.readline()
found = IOServiceGetMatchingService(port, IOServiceMatching("IOResources"))
print("found" if found else "none", flush=True)
"""


def _until(condition: Callable[[], bool]) -> bool:
    """Whether ``condition`` held before the deadline (the kernel runs on its own clock)."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _ioreg(path: str) -> int:
    done = iokit("ioreg", "-c", "IOResources", "--kernel", path)
    return done.returncode if "IOResources" in done.stdout else -1


def test_a_removed_socket_file_is_published_again_and_clients_go_on(
        kernel_factory: KernelFactory, kext_dist: Path) -> None:
    kernel = kernel_factory.start(env=kernel_env(kext_dist, IOKIT_KERNEL_SOCKET_CHECK="0.05"))
    before = start_program(kernel.path, CONNECTED, "connected")
    try:
        os.unlink(kernel.path)  # a temp-directory cleaner's doing
        assert _until(lambda: os.path.exists(kernel.path)), kernel.stderr()
        assert _ioreg(kernel.path) == 0  # a new client finds the kernel
        assert before.stdin is not None and before.stdout is not None
        before.stdin.write("\n")
        before.stdin.flush()
        assert before.stdout.readline().strip() == "found"  # the one connected before too
    finally:
        stop_program(before)
    assert "kernel-socket-recreated" in kernel.stderr()
    assert kernel.stop() == 0
    assert not os.path.exists(kernel.path)  # the new socket file is removed on shutdown


def test_a_path_something_else_took_is_reported_once_and_taken_back_when_free(
        kernel_factory: KernelFactory, kext_dist: Path) -> None:
    kernel = kernel_factory.start(env=kernel_env(kext_dist, IOKIT_KERNEL_SOCKET_CHECK="0.05"))
    os.unlink(kernel.path)
    Path(kernel.path).write_text("not a socket", encoding="utf-8")
    assert _until(lambda: "kernel-socket-lost" in kernel.stderr()), kernel.stderr()
    os.unlink(kernel.path)
    assert _until(lambda: "kernel-socket-recreated" in kernel.stderr()), kernel.stderr()
    assert _ioreg(kernel.path) == 0
    log = kernel.stderr()
    assert log.count("kernel-socket-lost") == 1  # logged once, not at every check
    assert "not a socket" in log
    assert kernel.stop() == 0


def test_a_check_interval_past_what_the_poller_can_wait_keeps_the_kernel_serving(
        kernel_factory: KernelFactory) -> None:
    """``IOKIT_KERNEL_SOCKET_CHECK=3e6`` (35 days) stopped the kernel at its first wait with
    ``internal error: OverflowError: timeout is too large``; it now waits what a timer holds."""
    kernel = kernel_factory.start(
        env=kernel_env(kernel_factory.kext_dist, IOKIT_KERNEL_SOCKET_CHECK="3e6"))
    assert _ioreg(kernel.path) == 0, kernel.stderr()
    assert kernel.stop() == 0
    assert "internal error" not in kernel.stderr()
