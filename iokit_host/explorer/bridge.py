"""The explorer's connection to the kernel: IORegistryExplorer's IOKitLib calls, over the socket.

Every question the explorer asks goes to the kernel as a protocol request (docs/protocol.md):
``tool.registry`` for a snapshot, ``tool.explain`` for a matching picture, ``tool.pmset_log``
for the power view, ``tool.events`` to apply events. The kernel answers on its one work loop,
so the web server's threads never touch a registry. One connection is kept and shared (its
requests are serialised by :class:`~iokit_sdk.iokitlib.port.MainPort`'s lock); a connection
that broke is opened again on the next question.
"""

from __future__ import annotations

import threading
from typing import Any

from iokit_sdk.iokitlib.port import KernelConnectionError, MainPort
from iokit_sdk.returns import IOReturnError

from iokit_host.errors import IOKitError
from iokit_host.server.client import await_transition, next_of, resume_of
from iokit_host.server.snapshot_pipeline import fetch

__all__ = ["BridgeError", "KernelBridge"]

#: What the kernel logs this client as.
CLIENT = "iokit explorer"


class BridgeError(IOKitError):
    """The kernel could not be asked, or refused the question."""

    reference = "kernel-unreachable"


class KernelBridge:
    """Questions to the kernel listening on ``path``."""

    def __init__(self, path: str, *, timeout: float = 60.0) -> None:
        self.path = path
        self.timeout = timeout
        self._port: MainPort | None = None
        self._lock = threading.Lock()
        #: Held while a scenario applies: the kernel keeps one waiting transition per connection.
        self._applying = threading.Lock()

    def connect(self, client: str = CLIENT) -> MainPort:
        """A new connection of its own (the live watcher's)."""
        try:
            return MainPort(self.path, client=client, timeout=self.timeout)
        except KernelConnectionError as error:
            raise BridgeError(f"cannot reach the kernel: {error}", file=self.path,
                              reference=error.reference,
                              hint="is 'iokit kernel' running on that socket?") from error

    def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        """One request; its reply (``ret`` 0), else :class:`BridgeError`."""
        with self._lock:
            port = self._port
            if port is None or port.closed_reason is not None:
                port = self._port = self.connect()
        try:
            reply = port.request(op, **fields)
        except KernelConnectionError as error:
            with self._lock:
                if self._port is port:
                    self._port = None
            raise BridgeError(f"the kernel went away: {error}", file=self.path,
                              reference=error.reference,
                              hint="is 'iokit kernel' still running?") from error
        except IOReturnError as error:
            raise BridgeError(f"the kernel answered {error}", file=self.path,
                              reference="kernel-request-failed") from error
        refused = reply.get("error")
        if isinstance(refused, dict):
            raise BridgeError(str(refused.get("message")),
                              reference=str(refused.get("reference") or "kernel-request-failed"),
                              key=refused.get("key"), hint=refused.get("hint"))
        if reply.get("ret", 0) != 0:
            raise BridgeError(f"the kernel refused {op}: {reply.get('message') or reply['ret']}",
                              reference="kernel-request-failed", key=op)
        return reply

    def snapshot(self) -> dict[str, Any]:
        """The registry's snapshot, asked for in parts (:func:`.snapshot_pipeline.fetch`).

        :raises SnapshotError: the kernel's parts do not make one."""
        return fetch(lambda **fields: self.ask("tool.registry", **fields))

    def explain(self, entry_id: int) -> dict[str, Any]:
        """The matching picture of the service with registry entry id ``entry_id`` (by id, as
        IORegistryExplorer asks: a name holding a ``/`` has no path that finds it)."""
        return dict(self.ask("tool.explain", entry=entry_id)["explanation"])

    def power_log(self) -> list[dict[str, Any]]:
        return list(self.ask("tool.pmset_log")["log"]["events"])

    def status(self) -> dict[str, Any]:
        return self.ask("tool.status")

    def apply(self, tables: list[Any], source: str) -> dict[str, Any]:
        """Apply scenario events, in order: a system transition that waits for programs'
        answers is waited for (as ``iokit event`` does) before the events after it."""
        lines: list[Any] = []
        diagnostics: list[Any] = []
        with self._applying:  # one scenario at a time on the shared connection
            start: int | None = 0
            while start is not None:
                reply = self.ask("tool.events", events=tables[start:], source=source,
                                 first=start)
                lines += reply.get("lines", [])
                diagnostics += reply.get("diagnostics", [])
                try:
                    rest = next_of(reply, start, len(tables))
                    start = resume_of(reply, start, len(tables))
                except ValueError as error:
                    raise BridgeError(str(error), file=self.path,
                                      reference="kernel-reply-invalid") from error
                if start is not None:
                    lines.append(self._await_transition())
                else:  # the kernel's time for one request ran out: the rest at once
                    start = rest
        return {"lines": lines, "diagnostics": diagnostics}

    def _await_transition(self) -> str:
        try:
            return await_transition(self.ask, self.path)
        except BridgeError:
            raise
        except IOKitError as error:  # the wait's own timeout, said as the bridge says errors
            raise BridgeError(error.diagnostic.message, file=self.path,
                              reference=error.diagnostic.reference,
                              hint=error.diagnostic.hint) from error

    def close(self) -> None:
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            port.close()
