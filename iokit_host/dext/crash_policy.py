"""What the kernel does when a driver process dies: ``IOUserServer::clientClose`` and
``finalize``, and the daily relaunch limit.

A crash (the process exited, was killed, crashed in C, hung past a call's deadline, or never
checked in) is counted on the host clock (:mod:`.crashes`), the server's registry entry goes,
programs waiting on it are answered ``kIOReturnAborted``, and every service it hosted is
terminated with rematch (``ClientCrashed``; the provider keeps the crashed personality first,
:mod:`.rematch`), so the next match relaunches it. Past the limit a provider waits, with
``dext-crash-limit`` saying until when, and is matched again when the oldest crash leaves the
window. :class:`CrashPolicy` is part of :class:`~iokit_host.dext.manager.DextManager` (a
mixin), as these are the kernel's answers to its own processes.
"""

from __future__ import annotations

import select
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from iokit_sdk.service import TERMINATE_WITH_REMATCH

from iokit_host.dext.crashes import MAX_CRASHES_PER_DAY
from iokit_host.dext.rematch import record_rematch
from iokit_host.errors import Diagnostic

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

    from iokit_host.dext.crashes import CrashLedger
    from iokit_host.dext.process import DriverProcess
    from iokit_host.dext.records import ServerRecord
    from iokit_host.dext.upcalls import Upcalls
    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["CrashPolicy"]


class _Manager(Protocol):
    """What the policy uses of the manager it is part of."""

    kernel: WorkLoop
    servers: dict[str, ServerRecord]
    crashes: CrashLedger
    upcalls: Upcalls
    _processes: list[DriverProcess]

    def _crashed(self, record: ServerRecord, reason: str) -> None: ...
    def _window_passed(self, record: ServerRecord) -> None: ...
    def _event(self, record: ServerRecord, message: dict[str, Any]) -> None: ...


class CrashPolicy:
    """Crashes counted and answered; the relaunch limit kept."""

    def _crashed(self: _Manager, record: ServerRecord, reason: str) -> None:
        """``clientClose`` and ``finalize``: count the crash, drop the server's registry entry,
        terminate what it hosted with rematch (a relaunch follows unless limited)."""
        process, pid = record.process, record.process.pid if record.process else None
        if process is None or process.crash_counted:
            return
        process.crash_counted = True
        now = self.kernel.clock.now_ns()
        self.crashes.record(record.server, now, reason)
        record.state, record.last_reason, record.process = "crashed", reason, None
        if process in self._processes:
            self._processes.remove(process)
        self.upcalls.gone(record)  # waiting programs get kIOReturnAborted; memory released
        self.kernel.report(Diagnostic(
            "dext-client-crashed",
            f"driver process {record.name} (pid {pid}) "
            f"{reason.removeprefix('the driver process ')}",
            subject=record.bundle_id,
            hint=f"ClientCrashed: its services are terminated and rematched, so it is "
                 f"relaunched; more than {MAX_CRASHES_PER_DAY} crashes in 24 hours stop that"))
        started = [p for p in record.started if not p.is_inactive()]
        record.started.clear()
        record.proxies.clear()
        if record.entry is not None and not record.entry.is_inactive():
            self.kernel.terminate(record.entry)
        record.entry = None
        for proxy in started:
            record_rematch(proxy)  # the same dext first (IORematchPersonality, IORematchCount)
            self.kernel.terminate(proxy, TERMINATE_WITH_REMATCH)

    def _limited(self: _Manager, record: ServerRecord, provider: IOService, now: int) -> None:
        """``provider`` matched a server past its crash limit: it waits, said once, for the
        window to pass."""
        ends = self.crashes.window_ends_ns(record.server, now) or now
        record.state = "crash-limit"
        if provider in record.waiting:
            return
        record.waiting.append(provider)
        count = len(self.crashes.in_window(record.server, now))
        self.kernel.report(Diagnostic(
            "dext-crash-limit", f"driver process {record.server} crashed {count} times within "
            f"24 hours of host time (more than {MAX_CRASHES_PER_DAY}); it is not relaunched "
            f"for {provider.get_name()} until host time {ends / 1e9:g} s",
            subject=record.bundle_id,
            hint=f"last crash: {record.last_reason}; fix the driver, or advance the host "
                 "clock past the window; other drivers may match the device meanwhile"))
        if record.timer is None:
            record.timer = self.kernel.clock.call_at(ends, partial(self._window_passed, record))

    def _window_passed(self: _Manager, record: ServerRecord) -> None:
        """The oldest crash left the window: rematch the devices left without the server."""
        record.timer = None
        waiting, record.waiting = record.waiting, []
        if record.state == "crash-limit":
            record.state = "crashed"
        for nub in waiting:
            if not nub.is_inactive():
                self.kernel.register_service(nub)

    def poll(self: _Manager, timeout_s: float = 0.0) -> list[str]:
        """Notice servers that died while idle (waiting up to ``timeout_s`` for one to), handle
        their crashes and return their names; the caller runs the work loop after."""
        live: dict[int, ServerRecord] = {}
        for r in self.servers.values():
            if r.process is not None and r.process.alive and r.process.channel is not None:
                live[r.process.channel.fileno()] = r
                if r.process.exit_fd is not None:  # its exit, which a forked child's copy
                    live[r.process.exit_fd] = r     # of the socket would hide
        if not live:
            return []
        ready, _, _ = select.select(list(live), [], [], timeout_s)
        crashed: list[str] = []
        seen: list[ServerRecord] = []  # its socket and its exit may both be ready
        for record in (live[fd] for fd in ready):
            if any(record is other for other in seen):
                continue
            seen.append(record)
            process = record.process
            if process is None or process.channel is None:
                continue
            for message in process.channel.drain():  # sent on its own while the kernel idled
                if "op" in message and record.process is process:
                    self._event(record, message)
            if record.process is process and process.channel is not None \
                    and (process.channel.eof or process.exited()):
                self._crashed(record, process.died())
                crashed.append(record.name)
        return crashed
