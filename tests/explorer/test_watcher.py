"""The live watcher against a peer posing as a kernel over a real socket: a kernel that answers
the registry with a damaged part is said to be unreadable, and the watcher lives on."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, PROTOCOL, PROTOCOL_VERSION, FrameReader, pack
from kernelkit import short_dir

from iokit_host.explorer.bridge import BridgeError, KernelBridge
from iokit_host.explorer.live import LiveRegistry

WAIT_S = 30.0

#: A kernel's answers, by request: notifications that find nothing, and a registry whose first
#: part holds entries that are no list.
ANSWERS: dict[str, dict[str, Any]] = {
    "port_create": {"ret": 0, "port": 1},
    "add_matching": {"ret": 0, "notification": 2, "objects": [], "more": False},
    "tool.registry": {"ret": 0, "more": False, "generation": 1,
                      "snapshot": {"planes": ["IOService"], "root": 1,
                                   "entries": {"not": "a list"}}},
}


def serve(server: socket.socket) -> None:
    """Answer every connection, one at a time, as :data:`ANSWERS` says."""
    while True:
        try:
            conn, _ = server.accept()
        except OSError:  # closed: the test is over
            return
        reader = FrameReader(MAX_KERNEL_FRAME)
        with conn:
            try:
                while (data := conn.recv(1 << 16)):
                    for message in reader.feed(data):
                        reply = ANSWERS.get(message["op"], {"ret": 0}) if message["op"] != "hello" \
                            else {"ret": 0, "protocol": PROTOCOL, "version": PROTOCOL_VERSION,
                                  "kernel_pid": 1, "client_pid": 2}
                        conn.sendall(pack({"id": message["id"], **reply}))
            except OSError:
                continue


@pytest.fixture
def damaged_kernel() -> Iterator[str]:
    path = os.path.join(short_dir(), "fake.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(4)
    thread = threading.Thread(target=serve, args=(server,), daemon=True)
    thread.start()
    yield path
    server.close()


def test_a_damaged_registry_part_is_said_and_the_watcher_lives_on(
        damaged_kernel: str) -> None:
    """fetch refuses the part itself (SnapshotError), which the watcher did not catch: its
    thread ended with a traceback, no view nor reason ever came (a page waited a minute for
    a 503 and then heard nothing more), and a request asked fresh got a 500."""
    live = LiveRegistry(KernelBridge(damaged_kernel, timeout=WAIT_S))
    live.start()
    try:
        assert live.first_view(WAIT_S), "the watcher said nothing"
        assert live.gone is not None and "kernel-reply-invalid" in live.gone, live.gone
        assert "went away" not in live.gone
        assert live._thread is not None and live._thread.is_alive()
        with pytest.raises(BridgeError) as refused:
            live.refresh_now()  # as after events the page applied
        assert refused.value.diagnostic.reference == "kernel-reply-invalid"
    finally:
        live.stop()
        live.bridge.close()
