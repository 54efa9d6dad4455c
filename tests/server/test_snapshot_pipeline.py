"""``iokit ioreg --kernel`` fetching the registry as a pipeline (:mod:`.snapshot_pipeline`):
the next part asked for before the last is rebuilt, against a peer posing as a kernel over a
real socket that serves a real registry's snapshot in parts, as a kernel does: a peer that
dies between parts, a registry that changes between parts, a damaged part."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, PROTOCOL, PROTOCOL_VERSION, FrameReader, pack
from kernelkit import iokit, short_dir

from iokit_host.host import IOKitHost
from iokit_host.ioreg import IoregOptions, render_text
from iokit_host.registry import IORegistry
from iokit_host.server import snapshot, snapshot_rebuild
from iokit_host.server.client import fetch_registry

#: How long a test waits for something the peer or the tool owes it, at most (never a sleep).
WAIT_S = 30.0
OPTIONS = IoregOptions(list_properties=True)

#: What the peer answers a ``tool.registry`` request with (its message, how many came before
#: it): a reply's fields, or None to close the connection (a kernel that died).
Script = Callable[[dict[str, Any], int], "dict[str, Any] | None"]


@pytest.fixture(scope="module")
def host() -> IOKitHost:
    return IOKitHost().boot()


def _parts(registry: IORegistry, count: int, generation: int = 1) -> list[dict[str, Any]]:
    """The registry's snapshot as ``count`` replies of a kernel's, in order."""
    whole = snapshot.take(registry)
    entries = [snapshot.row_of(record) for record in whole["entries"]]
    size = -(-len(entries) // count)
    replies = []
    for index in range(count):
        part: dict[str, Any] = {"entries": entries[index * size:(index + 1) * size]}
        if index == 0:
            part = {"planes": whole["planes"], "root": whole["root"], **part}
        replies.append({"ret": 0, "snapshot": part, "generation": generation,
                        "more": index < count - 1})
    return replies


class Peer:
    """A peer posing as a kernel on a fresh socket: it says hello, then answers each request
    as ``script`` says, and notes each request it read (:attr:`requests`, :attr:`read`)."""

    def __init__(self, script: Script, version: int = PROTOCOL_VERSION) -> None:
        self.script = script
        self.version = version
        self.path = os.path.join(short_dir(), "fake.sock")
        self.requests: list[dict[str, Any]] = []
        self.read = threading.Condition()
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(self.path)
        self._server.listen(1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def wait_for(self, count: int) -> bool:
        """Wait until ``count`` tool.registry requests were read; False if they never came."""
        with self.read:
            return self.read.wait_for(lambda: len(self.requests) >= count, WAIT_S)

    def _serve(self) -> None:
        conn, _ = self._server.accept()
        reader = FrameReader(MAX_KERNEL_FRAME)
        with conn:
            try:
                while (data := conn.recv(1 << 16)):
                    for message in reader.feed(data):
                        if not self._answer(conn, message):
                            return
            except OSError:  # the tool gave up first (it closed with a reply unread)
                return

    def _answer(self, conn: socket.socket, message: dict[str, Any]) -> bool:
        if message["op"] == "hello":
            conn.sendall(pack({"id": message["id"], "ret": 0, "protocol": PROTOCOL,
                               "version": self.version, "kernel_pid": 1,
                               "client_pid": 2}))
            return True
        with self.read:
            self.requests.append(message)
            self.read.notify_all()
        reply = self.script(message, len(self.requests) - 1)
        if reply is None:
            return False
        conn.sendall(pack({"id": message["id"], **reply}))
        return True

    def close(self) -> None:
        self._server.close()
        self._thread.join(WAIT_S)


@pytest.fixture
def peers() -> Iterator[Callable[[Script], Peer]]:
    made: list[Peer] = []

    def make(script: Script) -> Peer:
        made.append(Peer(script))
        return made[-1]
    yield make
    for peer in made:
        peer.close()


def test_the_next_part_is_asked_for_before_the_last_is_rebuilt(
        host: IOKitHost, peers: Callable[[Script], Peer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The tool rebuilt each part before it asked for the next, so the kernel waited for the
    tool's rebuild and the tool for the kernel's take. Each part's rebuild now begins only
    once the peer has read the request for the part after it, and the registry is the same."""
    replies = _parts(host.registry, 3)
    peer = peers(lambda message, index: replies[index])
    added = snapshot_rebuild.Rebuild.add
    asked_first: list[bool] = []

    def add(self: snapshot_rebuild.Rebuild, records: Any) -> None:
        part = len(asked_first)
        asked_first.append(part == len(replies) - 1 or peer.wait_for(part + 2))
        added(self, records)
    monkeypatch.setattr(snapshot_rebuild.Rebuild, "add", add)
    fetched = fetch_registry(peer.path)
    assert asked_first == [True, True, True]
    assert [sorted(r) for r in peer.requests] == [["id", "op"]] + [
        ["after", "generation", "id", "op"]] * 2
    assert peer.requests[1]["after"] == replies[0]["snapshot"]["entries"][-1][0]
    assert render_text(fetched, OPTIONS) == render_text(host.registry, OPTIONS)


def test_a_registry_that_changed_between_parts_is_fetched_again_whole_and_new(
        host: IOKitHost, peers: Callable[[Script], Peer]) -> None:
    """The tool rebuilds the parts as they come: a part answered ``stale`` (a nub plugged
    meanwhile) drops what was rebuilt, and the registry is the new generation's alone, the
    plugged nub in it, no entry twice."""
    changed = IOKitHost().boot()
    platform = next(e for e in changed.registry.entries() if e.meta_cast("IOService"))
    changed.registry.attach(_nub(), platform, "IOService")
    old, new = _parts(host.registry, 3), _parts(changed.registry, 2, generation=2)

    def script(message: dict[str, Any], index: int) -> dict[str, Any]:
        if index == 0:
            return old[0]
        if index == 1:
            return {"ret": 0, "stale": True, "generation": 2}
        return new[index - 2]
    peer = peers(script)
    fetched = fetch_registry(peer.path)
    assert [sorted(r) for r in peer.requests][2] == ["id", "op"]  # begun again
    assert render_text(fetched, OPTIONS) == render_text(changed.registry, OPTIONS)
    assert sum(e.get_name() == "Plugged" for e in fetched.entries()) == 1
    assert len(fetched) == len(changed.registry)


def _nub() -> Any:
    from iokit_sdk.service import IOService
    return IOService(name="Plugged", location="99")


@pytest.mark.parametrize("damage", ["gone", "entries", "record", "ends-empty"])
def test_a_kernel_that_dies_or_damages_a_part_mid_fetch_is_reported_not_a_traceback(
        host: IOKitHost, peers: Callable[[Script], Peer], damage: str) -> None:
    """A kernel that closes the connection after the first part (it died), or a second part
    that is not one (its entries not a list, a record without its class chain, an empty part
    that says more follow), while the tool rebuilds the first: ``iokit ioreg -l --kernel``
    says what went wrong and exits 1, without a traceback and without waiting."""
    replies = _parts(host.registry, 3)
    second = replies[1]
    damaged = {
        "gone": None,
        "entries": {**second, "snapshot": {"entries": {"not": "a list"}}},
        "record": {**second, "snapshot": {"entries": [{"id": 1 << 40}]}},
        "ends-empty": {**second, "snapshot": {"entries": []}},
    }[damage]
    peer = peers(lambda message, index: replies[0] if index == 0 else damaged)
    shown = iokit("ioreg", "-l", "--kernel", peer.path)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
    reference = "kernel-gone" if damage == "gone" else "kernel-reply-invalid"
    assert reference in shown.stderr, shown.stderr


def test_a_kernel_of_the_version_before_rows_is_refused_clearly(host: IOKitHost) -> None:
    """Version 5 sends a part's entries as rows; a version-4 kernel's maps are not read as
    damaged parts: the tool refuses the kernel at hello, naming both versions."""
    peer = Peer(lambda message, index: _parts(host.registry, 1)[0], PROTOCOL_VERSION - 1)
    try:
        shown = iokit("ioreg", "-l", "--kernel", peer.path)
    finally:
        peer.close()
    assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
    assert "protocol-version-mismatch" in shown.stderr
    assert f"version {PROTOCOL_VERSION - 1}" in shown.stderr, shown.stderr
