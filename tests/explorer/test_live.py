"""Live updates without the browser: the server-sent event stream of a real explorer tells of
a real ``iokit event`` unplug, and the entries it names have left the view."""

from __future__ import annotations

import http.client
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from explorerkit import (
    Explorer,
    ExplorerFactory,
    entry_id,
    explore_kernel,
    iokit,
    machine_model,
    nub,
    write_events,
)
from iokit_sdk.iokitlib import (
    IOServiceClose,
    IOServiceGetMatchingService,
    IOServiceMatching,
    IOServiceOpen,
    MainPort,
    mach_task_self,
)
from kernelkit import KernelFactory, short_dir

STREAM_TIMEOUT_S = 60.0


@contextmanager
def open_stream(explorer: Explorer) -> Iterator[http.client.HTTPResponse]:
    where = urlsplit(explorer.url)
    connection = http.client.HTTPConnection(where.hostname or "", where.port,
                                            timeout=STREAM_TIMEOUT_S)
    try:
        connection.request("GET", "/api/live", headers={"Accept": "text/event-stream"})
        with connection.getresponse() as response:
            assert response.status == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.readline() == b"retry: 2000\n"
            yield response
    finally:
        connection.close()


def next_event(stream: http.client.HTTPResponse) -> tuple[str, dict[str, object]]:
    """The next event; a failure when none came in :data:`STREAM_TIMEOUT_S` (the stream's
    keepalive comments would keep a read waiting for ever)."""
    kind, data = "", ""
    deadline = time.monotonic() + STREAM_TIMEOUT_S
    while True:
        if time.monotonic() > deadline:
            pytest.fail(f"no event within {STREAM_TIMEOUT_S:g} s")
        line = stream.readline().decode()
        if line.startswith("event: "):
            kind = line.removeprefix("event: ").strip()
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "\n" and kind:
            return kind, json.loads(data)


def test_an_unplug_is_streamed_with_every_entry_that_left(explorer_factory: ExplorerFactory,
                                                         tmp_path: Path) -> None:
    explorer = explorer_factory.start()
    arpt = entry_id(explorer, "ARPT")
    events = write_events(tmp_path, "unplug.toml",
                          '[[event]]\naction = "unplug"\npath = "ARPT"\n')
    with open_stream(explorer) as stream:
        assert iokit("event", events, "--kernel", explorer.socket).returncode == 0
        kind, changes = next_event(stream)
    assert kind == "changes"
    removed = {(e["id"], e["label"]) for e in changes["removed"]}  # type: ignore[union-attr]
    assert (arpt, "ARPT@0 (IOPCIDevice)") in removed
    assert "AppleBCM43xx (AppleBCM43xx)" in {label for _, label in removed}
    status, body = explorer.get(f"/api/entries/{arpt}")
    assert status == 404 and body["error"]["reference"] == "explorer-no-such-entry"
    assert explorer.stop() == 0


def test_a_user_client_opened_and_closed_by_a_program_is_streamed(
        explorer_factory: ExplorerFactory, kext_dist: Path) -> None:
    explorer = explorer_factory.start(also=kext_dist)
    with open_stream(explorer) as stream, MainPort(explorer.socket) as port:
        # this test process is the program
        driver = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(driver, mach_task_self(), 0)
        kind, opened = next_event(stream)
        assert kind == "changes"
        (added,) = opened["added"]  # type: ignore[misc]
        assert added["label"] == "TestUserClient (TestUserClient)"
        IOServiceClose(connect)
        _, closed = next_event(stream)
        assert [e["id"] for e in closed["removed"]] == [added["id"]]  # type: ignore[union-attr]
    assert explorer.stop() == 0


def test_a_sleep_is_streamed_as_power_states_that_changed(explorer_factory: ExplorerFactory,
                                                          tmp_path: Path) -> None:
    """No notification announces a power change: the watcher's poll finds it."""
    explorer = explorer_factory.start()
    arpt = entry_id(explorer, "ARPT")
    events = write_events(tmp_path, "sleep.toml", '[[event]]\naction = "sleep"\n')
    with open_stream(explorer) as stream:
        assert iokit("event", events, "--kernel", explorer.socket).returncode == 0
        kind, changes = next_event(stream)
    assert kind == "changes" and not changes["added"] and not changes["removed"]
    assert arpt in {e["id"] for e in changes["changed"]}  # type: ignore[union-attr]
    _, entry = explorer.get(f"/api/entries/{arpt}")
    power = dict(dict(entry["properties"])["IOPowerManagement"]["entries"])
    assert power["CurrentPowerState"]["dec"] == "0"
    assert explorer.stop() == 0


def test_more_services_than_a_connection_may_hold_are_explored_and_streamed(
        explorer_factory: ExplorerFactory, tmp_path: Path) -> None:
    """A publish notification hands over every existing service, more than the 65,536 objects
    one connection may hold: the watcher's subscription failed, and the explorer said the
    kernel went away (503) on every request, though the kernel ran on."""
    children = 70_000
    model = machine_model(tmp_path / "wide.toml", [
        nub(f"c{i}", "platform", f"c{i}", location=str(i)) for i in range(children)])
    explorer = explorer_factory.start("--machine", str(model))
    try:
        see_a_wide_registry(explorer, tmp_path, children)
    finally:  # terminating 70,000 services takes the kernel past the test's stop timeout
        explorer.proc.kill()
        explorer.stop()


def see_a_wide_registry(explorer: Explorer, tmp_path: Path, children: int) -> None:
    status, meta = explorer.get("/api/meta")
    assert status == 200, meta
    assert meta["entries"] > children
    status, plane = explorer.get("/api/planes/IOService")
    assert status == 200, plane
    with open_stream(explorer) as stream:
        events = write_events(tmp_path, "unplug.toml",
                              '[[event]]\naction = "unplug"\npath = "c69999@69999"\n')
        assert iokit("event", events, "--kernel", explorer.socket).returncode == 0
        kind, changes = next_event(stream)
    assert kind == "changes"
    removed = changes["removed"]
    assert isinstance(removed, list)
    assert "c69999@69999 (IOService)" in [e["label"] for e in removed]


def test_a_stream_begun_while_the_kernel_is_gone_says_so_and_hears_it_come_back(
        kernel_factory: KernelFactory, kext_dist: Path, tmp_path: Path) -> None:
    """Only the streams open when the kernel went were told: a page opened (or an
    EventSource reconnecting) afterwards heard nothing and said "live" over a dead kernel;
    and a kernel that came back before the explorer had any view was announced to nobody."""
    kernel_path = os.path.join(short_dir(), "k.sock")
    explorer = explore_kernel(kernel_path, kext_dist, tmp_path / "explore.log")
    try:
        with open_stream(explorer) as stream:
            kind, gone = next_event(stream)
            assert kind == "gone" and "no iokit kernel at" in str(gone["message"])
            kernel_factory.start(path=kernel_path)
            kind, _ = next_event(stream)
            assert kind == "resync"
        status, meta = explorer.get("/api/meta")
        assert status == 200 and meta["machine"] == "default"
    finally:
        explorer.stop()
