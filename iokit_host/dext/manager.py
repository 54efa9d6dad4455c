"""One kernel's driver processes: launch on first match, forward calls, account for crashes.

IOKit's side of DriverKit lives in ``IOUserServer`` (``launchUserServer``, ``rpc``,
``clientClose``, ``finalize``) and ``IOService::probeCandidates``. Here a :class:`DextManager`
per kernel keeps one :class:`ServerRecord` per driver process (:mod:`iokit_host.dext.reuse`
decides which process a service gets). A proxy's first call launches the server (or reuses
it), creates the driver object there and forwards the call; replies carry the driver's
property changes and the nubs it published, which the kernel applies. A process that dies or
hangs is a crash (:mod:`iokit_host.dext.crash_policy`): it is recorded on the host clock, the
services it hosted are terminated with rematch (``ClientCrashed``; the provider keeps the
crashed personality, :mod:`iokit_host.dext.rematch`), so the next match relaunches it; past
the daily limit (:mod:`iokit_host.dext.crashes`) it is not relaunched until the window passes,
and ``dext-crash-limit`` says so.
"""

from __future__ import annotations

import itertools
import os
import weakref
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iokit_sdk import keys
from iokit_sdk.service import IOService
from iokit_sdk.values import OSNumber

from iokit_host.dext.crash_policy import CrashPolicy
from iokit_host.dext.crashes import CrashLedger
from iokit_host.dext.effects import REPLY_PARTS, ReplyEffects
from iokit_host.dext.entitlements import DextEntitlements, entitlements_of
from iokit_host.dext.power import join_power
from iokit_host.dext.process import DextProcessError, DriverProcess
from iokit_host.dext.proxy import (
    DextObject,
    IOUserServer,
    IOUserService,
    IOUserUserClient,
    become_informed,
)
from iokit_host.dext.records import DextRow, ServerRecord
from iokit_host.dext.rematch import (
    DEFAULT_RELAUNCH_MAX,
    MATCHED_PERSONALITY,
    matched_personality,
)
from iokit_host.dext.reuse import process_for
from iokit_host.dext.upcalls import Upcalls
from iokit_host.errors import Diagnostic, Severity
from iokit_host.settings import env_seconds

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop
    from iokit_host.kext.bundle import KextBundle

__all__ = ["DextCallError", "DextCrashedError", "DextManager", "manager_for"]

_MANAGERS: weakref.WeakKeyDictionary[Any, DextManager] = weakref.WeakKeyDictionary()
_UNSUPPORTED = 0xE00002C7


class DextCrashedError(Exception):
    """The driver process died or hung during a call (the call's driver fault)."""


class DextCallError(Exception):
    """The driver process refused a call (an unknown class, say); it is still running."""


def manager_for(kernel: WorkLoop) -> DextManager:
    """The :class:`DextManager` of ``kernel``, made on first use."""
    manager = _MANAGERS.get(kernel)
    if manager is None:
        manager = _MANAGERS[kernel] = DextManager(kernel)
    return manager


class DextManager(CrashPolicy):
    """The driver processes of one kernel."""

    def __init__(self, kernel: WorkLoop) -> None:
        self.kernel = kernel
        #: Bundle ids whose ordinary drivers run in driver processes (``--isolate``).
        self.isolated: set[str] = set()
        self.servers: dict[str, ServerRecord] = {}
        self.crashes = CrashLedger()
        # Real-time bounds (the child is a real process); 0 means no bound.
        self.checkin_timeout_s = self._seconds("IOKIT_DEXT_CHECKIN_TIMEOUT", 10.0) or None
        self.call_timeout_s = self._seconds("IOKIT_DEXT_CALL_TIMEOUT", 10.0) or None
        #: ``dextrelaunch``: rematches of a crashed dext's own personality before it is
        #: excluded (:mod:`.rematch`).
        self.relaunch_max = self._count("IOKIT_DEXT_RELAUNCH_MAX", DEFAULT_RELAUNCH_MAX)
        #: Numbers for the objects the kernel names in a driver process (user clients).
        self.object_numbers = itertools.count(1)
        self._entitlements: dict[str, DextEntitlements] = {}
        self._reported: set[tuple[str, str, int]] = set()
        self._processes: list[DriverProcess] = []
        #: What the processes ask of the kernel on their own: power, completions, memory.
        self.upcalls = Upcalls(kernel)
        #: What each reply says the driver did, applied to the registry.
        self.effects = ReplyEffects(kernel)
        # Every server ends with the kernel: when the manager goes, or the interpreter exits.
        self._finalizer = weakref.finalize(self, _stop_all, self._processes)

    def _seconds(self, name: str, default: float) -> float:
        try:
            return env_seconds(name, default)
        except ValueError as error:
            self.kernel.report(Diagnostic("dext-bad-timeout", str(error), key=name,
                                          hint=f"give seconds; {default:g} is used",
                                          severity=Severity.WARNING))
            return default

    def entitlements(self, bundle: KextBundle) -> DextEntitlements:
        """The dext's entitlements (:mod:`.entitlements`), read once per kernel; a file that
        does not read is reported then."""
        known = self._entitlements.get(bundle.bundle_id)
        if known is None:
            known, problem = entitlements_of(bundle)
            self._entitlements[bundle.bundle_id] = known
            if problem is not None:
                self.kernel.report(replace(problem, subject=bundle.bundle_id))
        return known

    def report_once(self, diagnostic: Diagnostic, about: object = None) -> None:
        """Report ``diagnostic`` (about ``about``, a nub) unless it was reported already: a
        nub is matched again on every rematch."""
        key = (diagnostic.reference, diagnostic.message, id(about))
        if key not in self._reported:
            self._reported.add(key)
            self.kernel.report(diagnostic)

    def _count(self, name: str, default: int) -> int:
        text = os.environ.get(name, "").strip()
        if not text:
            return default
        if text.isdigit() and len(text) < 11:
            return int(text)
        self.kernel.report(Diagnostic("dext-bad-setting", f"{name}={text[:40]!r} is not a "
                                      "count", key=name, severity=Severity.WARNING,
                                      hint=f"give a whole number; {default} is used"))
        return default

    # -- the proxy's calls ---------------------------------------------------------------------
    def probe(self, proxy: DextObject, provider: IOService, score: int) -> Any:
        """The driver's ``probe`` in its process: what it returned (the kernel reads it)."""
        record = self.live_record(proxy) or self._server(proxy, provider)
        if record is None:
            return None
        if proxy.dext_obj is None and not self._create(record, proxy):
            return None
        return self.call(record, proxy, "probe", provider, [score]).get("result")

    def start(self, proxy: DextObject, provider: IOService) -> Any:
        """The driver's ``start`` in its process: what it returned (None warns, as in-kernel)."""
        record = self.live_record(proxy)
        if record is None and isinstance(proxy, IOUserUserClient):
            raise DextCrashedError(f"driver process {proxy.dext_server}: not running")
        record = record or self._server(proxy, provider)
        if record is None:
            return False
        if proxy.dext_obj is None and not self._create(record, proxy):
            return False
        result = self.call(record, proxy, "start", provider, []).get("result")
        if result is not False and not proxy.is_inactive():
            record.started[proxy] = None
            if not isinstance(proxy, IOUserUserClient):
                join_power(proxy, provider)  # serviceStarted: DriverKit's fixed power table
        return result

    # -- user clients (IOUserUserClient) -------------------------------------------------------
    def forward(self, proxy: DextObject, method: str, provider: IOService | None,
                args: list[Any], default: Any) -> Any:
        """A call whose failure changes nothing for the caller (``stop``, ``will_terminate``):
        a dead or refusing server answers ``default``."""
        record = self.live_record(proxy)
        if record is None:
            return default
        try:
            return self.call(record, proxy, method, provider, args).get("result", default)
        except (DextCrashedError, DextCallError):
            return default

    def free(self, proxy: DextObject) -> None:
        if isinstance(proxy, IOUserUserClient):
            self.upcalls.client_gone(proxy)
        record = self.live_record(proxy)
        if record is not None:
            self.forward(proxy, "free", None, [], None)
        record = self.servers.get(proxy.dext_server or "")
        if record is not None and proxy.dext_obj is not None:
            record.proxies.pop(proxy.dext_obj, None)
            record.started.pop(proxy, None)
            if not record.proxies and record.process is not None and record.process.alive:
                self._retire(record)

    def _retire(self, record: ServerRecord) -> None:
        """The server hosts nothing any more: it exits, as a dext does when its last service
        goes (``IOUserServer::finalize``); not a crash. The next match launches it again."""
        assert record.process is not None
        record.process.stop()
        if record.process in self._processes:
            self._processes.remove(record.process)
        record.process, record.state = None, "idle"
        if record.entry is not None and not record.entry.is_inactive():
            self.kernel.terminate(record.entry)
        record.entry = None

    # -- servers -------------------------------------------------------------------------------
    def live_record(self, proxy: DextObject) -> ServerRecord | None:
        record = self.servers.get(proxy.dext_server or "")
        if record is None or proxy.dext_obj is None or record.process is None \
                or not record.process.alive or record.proxies.get(proxy.dext_obj) is not proxy:
            return None
        return record

    def record(self, key: str, server: str, bundle_id: str) -> ServerRecord:
        """The record keyed ``key`` (a process of server ``server``), made on first use."""
        record = self.servers.get(key)
        if record is None:
            package, paths = self._code_of(bundle_id)
            record = self.servers[key] = ServerRecord(key, bundle_id, package, paths,
                                                      server=server)
        return record


    def _code_of(self, bundle_id: str) -> tuple[str | None, tuple[str, ...]]:
        resolution = self.kernel.resolution
        bundle = resolution.bundle(bundle_id) if resolution is not None else None
        if bundle is None or bundle.package is None:
            return None, ()
        paths: tuple[str, ...] = ()
        if bundle.distribution is None and bundle.source is not None:
            paths = (str(Path(bundle.source).parent.parent),)
        return bundle.package, paths

    def _server(self, proxy: DextObject, provider: IOService) -> ServerRecord | None:
        """The running server for ``proxy``, launched if needed; None past the crash limit.

        :raises DextCrashedError: the launch failed (it is counted as a crash).
        """
        live = self.live_record(proxy) if proxy.dext_obj is not None else None
        if live is not None:
            return live
        record = process_for(self, proxy, provider)
        if record is None:
            return None
        # Created in a process that died since (another candidate's crash): a fresh object in
        # the relaunched process, as a rematch would make.
        proxy.dext_obj = None
        if record.process is not None and record.process.alive:
            return record
        now = self.kernel.clock.now_ns()
        if self.crashes.limited(record.server, now):
            self._limited(record, provider, now)
            return None
        self._launch(record, proxy)
        return record

    def _launch(self, record: ServerRecord, proxy: DextObject) -> None:
        process = DriverProcess(record.server, record.package, record.paths)
        self._processes.append(process)
        record.state = "launching"
        record.providers_sent.clear()
        try:
            process.launch(self.checkin_timeout_s)
        except DextProcessError as error:
            record.process = process
            self._crashed(record, str(error))
            raise DextCrashedError(f"driver process {record.name}: {error}") from None
        finally:
            if not process.alive and process in self._processes:
                self._processes.remove(process)
        record.process = process
        record.state = "running"
        record.launches += 1
        record.entry = self._publish_server(record.server, proxy)

    def _publish_server(self, name: str, proxy: IOService) -> IOUserServer | None:
        tag = proxy.get_registry_entry_id() or 0
        entry = IOUserServer({keys.USER_SERVER_NAME: name, "IOUserServerTag": OSNumber(tag, 64)},
                             name=f"IOUserServer({name}-0x{tag:x})")
        root = self.kernel.registry.plane_root(keys.SERVICE_PLANE)
        if not isinstance(root, IOService) or not self.kernel.link(entry, root):
            return None
        self.kernel.register_service(entry)
        return entry

    # -- calls ---------------------------------------------------------------------------------
    def _create(self, record: ServerRecord, proxy: DextObject) -> bool:
        obj = next(self.object_numbers)
        proxy.dext_obj, proxy.dext_server = obj, record.name
        record.proxies[obj] = proxy
        personality = proxy.dext_personality
        user_class = personality.get(keys.USER_CLASS)
        is_dext = isinstance(user_class, str) and keys.USER_SERVER_NAME in personality
        class_name = user_class if is_dext else proxy.iokit_class_name
        message = {"op": "create", "obj": obj, "class": class_name, "props": personality,
                   "codeless": record.package is None}
        bundle_id = personality.get(keys.BUNDLE_IDENTIFIER)
        if isinstance(bundle_id, str) and bundle_id != record.bundle_id:
            # Another dext sharing this server (IOUserServerOneProcess): its code loads too.
            package, paths = self._code_of(bundle_id)
            message.update(package=package, paths=list(paths), codeless=package is None)
        reply = self.send(record, proxy, message, "init")
        if reply.get("informed") is True and isinstance(proxy, IOUserService):
            become_informed(proxy)  # its power notifications cross (proxy._Informed)
        if is_dext:
            # serviceAttach: the kernel service takes the user class's name and chain.
            assert isinstance(class_name, str)
            proxy.set_name(class_name)
            chain = [c for c in reply.get("chain") or [class_name]
                     if isinstance(c, str) and c != "IORegistryEntry"]
            proxy.set_property("IOUserClasses", [*chain, "OSObject"])
            proxy.set_property(MATCHED_PERSONALITY, matched_personality(personality))
        return reply.get("result") is not False

    def call(self, record: ServerRecord, proxy: DextObject, method: str,
              provider: IOService | None, args: list[Any]) -> dict[str, Any]:
        message = {"op": "call", "obj": proxy.dext_obj, "method": method, "args": args,
                   "provider": self._provider_spec(record, provider)}
        return self.send(record, proxy, message, method)

    def send(self, record: ServerRecord, proxy: DextObject, message: dict[str, Any],
              what: str) -> dict[str, Any]:
        process = record.process
        if process is None:
            raise DextCrashedError(f"driver process {record.name}: {record.last_reason}")
        try:
            reply = process.call(message, self.call_timeout_s, what,
                                 partial(self._event, record))
        except DextProcessError as error:
            self._crashed(record, str(error))
            raise DextCrashedError(f"driver process {record.name}: {error}") from None
        except BaseException:
            # The call was abandoned (the watchdog, Ctrl-C) and the process killed for not
            # answering (DriverProcess.call): that is its crash, counted and answered now, so
            # its server entry and services do not outlive it.
            if record.process is process and process.dead_reason is not None:
                self._crashed(record, process.dead_reason)
            raise
        if not reply.get("ok"):
            raise DextCallError(str(reply.get("error")))
        if not REPLY_PARTS.isdisjoint(reply):  # most calls change nothing but their result
            self.effects.apply(record, proxy, reply)
        return reply

    def _event(self, record: ServerRecord, message: dict[str, Any]) -> None:
        """A message the process sent on its own (a power request, a completion, what its
        notification handlers changed)."""
        try:
            if message.get("op") == "changed":  # applied as a reply's parts are
                owner = next(iter(record.proxies.values()), None)
                if owner is not None:
                    self.effects.apply(record, owner, {k: v for k, v in message.items()
                                                if k in ("others", "published", "requests")})
            else:
                self.upcalls.event(record, message)
        except (DextCrashedError, DextCallError):
            pass  # a call it made back into the process failed: handled there

    def _provider_spec(self, record: ServerRecord, provider: IOService | None
                       ) -> dict[str, Any] | None:
        if provider is None:
            return None
        if isinstance(provider, IOUserService) and provider.dext_server == record.name \
                and provider.dext_obj is not None:
            return {"local": provider.dext_obj}  # the driver object itself, in that process
        # A kernel object: a number in that process, described the first time (.kobjects).
        return self.upcalls.object_spec(record, provider)

    def shutdown(self) -> None:
        """Stop every server (the kernel is going away): not crashes."""
        for record in self.servers.values():
            if record.process is not None:
                record.process.stop()
                record.process = None
            record.state = "stopped"
        self._processes.clear()

    def rows(self) -> list[DextRow]:
        now = self.kernel.clock.now_ns()
        return [DextRow(r.bundle_id, r.server, r.pid, r.state,
                        len(self.crashes.in_window(r.server, now)),
                        self.crashes.total.get(r.server, 0), r.launches, len(r.started))
                for r in sorted(self.servers.values(), key=lambda r: r.name)]


def type_is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any) -> int:
    """An object number or option word from a reply: an int, else 0 (names nothing)."""
    return value if type(value) is int else 0


def _stop_all(processes: list[DriverProcess]) -> None:
    for process in list(processes):
        process.stop()
    processes.clear()
