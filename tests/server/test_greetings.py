"""Hellos owed: each new connection has its time to say hello, on a clock the test drives."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from iokit_sdk.iokitlib.wire import (
    MAX_KERNEL_FRAME,
    PROTOCOL_VERSION,
    FrameReader,
    pack,
)
from kernelkit import KernelFactory, begin_large_frames, kernel_env

from iokit_host.server.greetings import HELLO_TIMEOUT_S, Greetings


class _Session:
    def __init__(self) -> None:
        self.ready = False
        self.gone = False


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _greetings(clock: _Clock) -> tuple[Greetings, Any, Any]:
    greetings = Greetings(clock)
    first, second = _Session(), _Session()
    greetings.expect(first)  # type: ignore[arg-type]
    clock.now += 4
    greetings.expect(second)  # type: ignore[arg-type]
    return greetings, first, second


def test_a_late_hello_is_overdue_in_the_order_they_connected() -> None:
    clock = _Clock()
    greetings, first, second = _greetings(clock)
    assert greetings.wait_s(None) == HELLO_TIMEOUT_S - 4  # the loop wakes for the first
    assert greetings.wait_s(1.0) == 1.0  # or sooner, for its own timers
    clock.now += HELLO_TIMEOUT_S - 4
    assert greetings.overdue() == [first]
    assert greetings.wait_s(None) == 4
    clock.now += 4
    assert greetings.overdue() == [second] and not greetings
    assert greetings.wait_s(None) is None


def test_a_session_that_said_hello_or_ended_is_never_overdue() -> None:
    clock = _Clock()
    greetings, first, second = _greetings(clock)
    first.ready = True
    assert greetings.wait_s(None) == HELLO_TIMEOUT_S  # the second's deadline only
    greetings.forget(second)
    clock.now += 2 * HELLO_TIMEOUT_S
    assert greetings.overdue() == [] and not greetings


def test_the_timeout_is_a_setting_and_a_bad_one_keeps_the_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOKIT_KERNEL_HELLO_TIMEOUT", "2.5")
    assert Greetings().timeout_s == 2.5
    monkeypatch.setenv("IOKIT_KERNEL_HELLO_TIMEOUT", "soon")
    assert Greetings().timeout_s == HELLO_TIMEOUT_S


def test_a_frame_begun_and_never_finished_is_closed_in_time_and_gives_its_share_back(
        kernel_factory: KernelFactory, kext_dist: Path) -> None:
    """Clients that began large requests and stopped held the kernel's whole budget of
    unfinished frames for good: nobody else's large request was read until they left. Each
    is told ``kernel-frame-timeout`` and closed, and the large request waiting is answered."""
    kernel = kernel_factory.start(env=kernel_env(kext_dist, IOKIT_KERNEL_HELLO_TIMEOUT="1"))
    stalled = begin_large_frames(kernel.path, 20)
    big = socket.socket(socket.AF_UNIX)
    try:
        big.settimeout(10)
        big.connect(kernel.path)
        requests = pack({"op": "hello", "id": 0, "protocol": "iokit",
                         "version": PROTOCOL_VERSION}) \
            + pack({"op": "no-such-op", "id": 1, "pad": bytes(1 << 20)})

        def send() -> None:
            with contextlib.suppress(OSError):
                big.sendall(requests)  # it waits while the budget is taken

        threading.Thread(target=send, daemon=True).start()
        for sock in stalled:
            told = _messages(sock, 2)  # the hello's answer, then why it is closed
            assert len(told) == 2 and told[1].get("fatal") == "kernel-frame-timeout", \
                kernel.stderr()[-2000:]
            assert "did not arrive whole within 1 s" in told[1]["message"]
        answered = _messages(big, 2)
        assert [m.get("ret") for m in answered] == [0, 0xE00002C7], kernel.stderr()[-2000:]
    finally:
        big.close()
        for sock in stalled:
            sock.close()
    assert "warning[kernel-frame-timeout]" in kernel.stderr()
    assert kernel.proc.poll() is None


def _messages(sock: socket.socket, count: int) -> list[dict[str, Any]]:
    """Up to ``count`` messages from ``sock`` (fewer when it closes or 10 s pass)."""
    sock.settimeout(10)
    reader = FrameReader(MAX_KERNEL_FRAME)
    messages: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        while len(messages) < count and (data := sock.recv(1 << 16)):
            messages += reader.feed(data)
    return messages
