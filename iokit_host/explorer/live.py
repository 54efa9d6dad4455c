"""Watching the registry: IORegistryExplorer's live updates, as a client of the kernel.

IORegistryExplorer installs matching notifications and refreshes when services come and go.
The watcher does the same on a connection of its own: matching notifications for every
service's publication and termination (``IOServicePublish``, ``IOServiceTerminate``) trigger
a new snapshot at once, and a slower poll catches what no notification announces (a property,
a power state, a user client attached) while a page watches; with no page watching, a request
older than the poll's period takes a fresh snapshot instead. Each snapshot that differs from the
last becomes the current :class:`~.view.RegistryView`, and its :class:`~.changes.Changes` go to
every browser watching (server-sent events). The poll's period grows with the snapshot's cost
(20 times it, at least one second), so a big registry does not keep the kernel's work loop
busy. The services a notification finds there already are taken from its iterator a batch at
a time and released as they come, so a registry of more services than one connection may hold
objects (65,536) is watched by notifications too, not by the slow poll alone.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from iokit_sdk.iokitlib.port import KernelConnectionError, MainPort
from iokit_sdk.returns import IOReturn, IOReturnError

from iokit_host.explorer.bridge import BridgeError, KernelBridge
from iokit_host.explorer.changes import compare
from iokit_host.explorer.view import RegistryView
from iokit_host.server.snapshot import SnapshotError
from iokit_host.server.snapshot_pipeline import fetch

__all__ = ["LiveRegistry"]

_NOTIFICATIONS = ("IOServicePublish", "IOServiceTerminate")
#: Services taken from a notification's iterator at once (the kernel's most).
_BATCH = 4096
_TURN_S = 0.25
_MIN_POLL_S = 1.0
_MAX_POLL_S = 30.0
_RETRY_S = 2.0
#: Messages waiting for one browser; past that it is told to reload what it shows.
_QUEUE = 64


class LiveRegistry:
    """The current view of the kernel behind ``bridge``, kept fresh by a watcher thread."""

    def __init__(self, bridge: KernelBridge) -> None:
        self.bridge = bridge
        self.gone: str | None = None
        self._view: RegistryView | None = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # one refresh at a time: views in order
        self._taken_at = 0.0
        self._period = _MIN_POLL_S
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Any]]] = []
        self._thread: threading.Thread | None = None

    # -- the view --------------------------------------------------------------------------
    def view(self, timeout: float = 60.0) -> RegistryView:
        """The latest view; waits for the first one.

        :raises BridgeError: the kernel has not answered within ``timeout``.
        """
        if not self._ready.wait(timeout) or self._view is None:
            raise BridgeError(self.gone or "the kernel has not sent its registry yet",
                              file=self.bridge.path,
                              hint="is 'iokit kernel' running on that socket?")
        if not self._subscribers:  # nobody watches, so nobody polls: fresh on demand
            self._refresh_if_older(self._period)
        return self._view

    def first_view(self, timeout: float = 60.0) -> bool:
        """Wait until the first view is taken (or the kernel is known gone): True when it
        is. A stream's changes are told against a view; one begun before the first would
        miss what that view already holds."""
        return self._ready.wait(timeout)

    def refresh_now(self) -> None:
        """Take a snapshot now, on the bridge's connection (after events this server applied:
        the page reads what it just did)."""
        self._refresh(self.bridge.snapshot)

    def _refresh_if_older(self, age_s: float) -> None:
        with self._refreshing:
            if time.monotonic() - self._taken_at > age_s:
                self._refresh_locked(self.bridge.snapshot)

    # -- subscribers (called on the web server's event loop) --------------------------------
    def subscribe(self) -> asyncio.Queue[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue(_QUEUE)
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Any]) -> None:
        with self._lock:
            self._subscribers = [(loop, q) for loop, q in self._subscribers if q is not queue]

    def _broadcast(self, message: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            try:
                loop.call_soon_threadsafe(_offer, queue, message)
            except RuntimeError:  # that loop has closed: the server is stopping
                pass

    # -- the watcher thread ------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="iokit-explorer-watch",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._ready.set()  # a stream still waiting for the first view goes, and the exit too
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                port = self.bridge.connect("iokit explorer (watch)")
            except BridgeError as error:
                self._lost(str(error.diagnostic.message))
                self._stop.wait(_RETRY_S)
                continue
            try:
                self._watch(port)
            except BridgeError as error:  # it answered, but not with a registry
                self._lost(f"{error.diagnostic.message} [{error.diagnostic.reference}]")
            except (KernelConnectionError, IOReturnError) as error:
                self._lost(f"the kernel went away: {error}")
            finally:
                port.close()
            self._stop.wait(_RETRY_S)

    def _lost(self, reason: str) -> None:
        if self.gone is None:
            self.gone = reason
            self._broadcast({"kind": "gone", "message": reason})
        self._ready.set()  # waiting readers get the reason now, not after their timeout

    def _watch(self, port: MainPort) -> None:
        notifications = _subscribe(port)
        due = 0.0
        while not self._stop.is_set():
            # The poll runs only while a page watches (or before the first view); an explorer
            # nobody looks at costs the kernel nothing but its notifications.
            polling = bool(self._subscribers) or self._view is None
            if (polling and time.monotonic() >= due) or _drain(port, notifications):
                started = time.monotonic()
                self._refresh(lambda: fetch(partial(port.call, "tool.registry")))
                cost = time.monotonic() - started
                self._period = min(max(20 * cost, _MIN_POLL_S), _MAX_POLL_S)
                due = time.monotonic() + self._period
            port.wait(_TURN_S)
            if port.closed_reason is not None:
                raise KernelConnectionError(port.closed_reason, reference="kernel-gone")

    def _refresh(self, take: Callable[[], dict[str, Any]]) -> None:
        with self._refreshing:
            self._refresh_locked(take)

    def _refresh_locked(self, take: Callable[[], dict[str, Any]]) -> None:
        old = self._view
        generation = (old.generation + 1) if old is not None else 1
        try:
            # A damaged part is refused by the fetch itself: uncaught there, it ended the
            # watcher thread with a traceback, and the page was never updated again.
            snapshot = take()
            self._taken_at = time.monotonic()
            view = RegistryView(snapshot, generation)
        except SnapshotError as error:
            raise BridgeError(f"the kernel's snapshot cannot be read: {error}",
                              reference="kernel-reply-invalid") from error
        was_gone, self.gone = self.gone, None
        if old is None:
            self._view = view
            self._ready.set()
            if was_gone:  # a page told the kernel was gone, before any view: it reads it all
                self._broadcast({"kind": "resync"})
            return
        changes = compare(old.records, view.records, generation)
        if changes or was_gone:
            self._view = view
            self._broadcast({"kind": "changes", **changes.to_json()})


def _subscribe(port: MainPort) -> int | None:
    """A notification port with publish and terminate notifications for every service. The
    services a publish notification finds there already (every one) are drained from its
    iterator a batch at a time, each batch released with the request for the next, so the
    connection never holds more than a batch of them, however big the registry. None when
    the kernel refuses even that (``kIOReturnNoResources``: this user's connections hold
    too much already): the poll alone then sees the changes."""
    handle = int(port.call("port_create")["port"])
    for kind in _NOTIFICATIONS:
        try:
            reply = port.call("add_matching", port=handle, type=kind, count=_BATCH,
                              matching={"IOProviderClass": "IOService"})
            _drain_existing(port, reply)
        except IOReturnError as error:
            if error.code != IOReturn.NO_RESOURCES:
                raise
            port.call("port_destroy", port=handle)
            return None
    return handle


def _drain_existing(port: MainPort, reply: dict[str, Any]) -> None:
    """Take and release the services a notification's iterator holds (the snapshot says
    everything about them); ``reply`` is ``add_matching``'s, with the first batch."""
    notification = reply.get("notification")
    objects = _handles(reply)
    while reply.get("more") is True:
        reply = port.call("iterator_next", iterator=notification, count=_BATCH,
                          release=objects)
        objects = _handles(reply)
    _release(port, objects)


def _handles(reply: dict[str, Any]) -> list[int]:
    return [o for o in reply.get("objects") or () if type(o) is int]


def _drain(port: MainPort, handle: int | None) -> bool:
    """True when notifications came; the objects they hand over (one each) are released at
    once, in one request (the snapshot says everything about them)."""
    if handle is None:
        return False
    queue = port.queue_for(handle)
    if not queue:
        return False
    objects: list[int] = []
    while queue:
        note = queue.popleft()
        objects.extend(o for o in note.get("objects") or () if isinstance(o, int))
    _release(port, objects)
    return True


def _release(port: MainPort, objects: list[int]) -> None:
    if objects:
        port.call("release", objects=objects)


def _offer(queue: asyncio.Queue[Any], message: dict[str, Any]) -> None:
    if queue.full():  # a browser that does not read: it reloads what it shows instead
        while not queue.empty():
            queue.get_nowait()
        message = {"kind": "resync"}
    queue.put_nowait(message)
