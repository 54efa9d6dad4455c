"""A driver process's record, and one row of ``iokit dext list``.

xnu keeps an ``IOUserServer`` per driver process and ``OSDextStatistics`` per dext; the
kernel's :class:`~iokit_host.dext.manager.DextManager` keeps one :class:`ServerRecord` per
process here (it follows the process through relaunches), and ``iokit dext list`` prints a
:class:`DextRow` for each, as ``systemextensionsctl list`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from iokit_sdk.service import IOService

from iokit_host.clock import Timer
from iokit_host.dext.process import DriverProcess
from iokit_host.dext.proxy import DextObject, IOUserServer

__all__ = ["DextRow", "ServerRecord"]


@dataclass
class ServerRecord:
    """One driver process's state (mutable: it follows the process through relaunches).

    ``name`` is the record's key: the ``IOUserServerName`` for the first process of that
    server, ``<server>-0x<tag>`` for another one running at the same time (a dext without
    ``IOUserServerOneProcess`` runs a process per service, :mod:`.reuse`); ``server`` is the
    ``IOUserServerName`` itself."""

    name: str
    bundle_id: str
    package: str | None
    paths: tuple[str, ...]
    process: DriverProcess | None = None
    state: str = "launching"
    entry: IOUserServer | None = None
    proxies: dict[int, DextObject] = field(default_factory=dict)
    started: dict[DextObject, None] = field(default_factory=dict)
    launches: int = 0
    last_reason: str = ""
    providers_sent: set[int] = field(default_factory=set)
    waiting: list[IOService] = field(default_factory=list)
    timer: Timer | None = None
    server: str = ""

    def __post_init__(self) -> None:
        self.server = self.server or self.name

    @property
    def free(self) -> bool:
        """Hosting nothing and not running: a per-service process may start here."""
        return not self.proxies and (self.process is None or not self.process.alive)

    @property
    def pid(self) -> int | None:
        process = self.process
        return process.pid if process is not None and process.alive else None


@dataclass(frozen=True, slots=True)
class DextRow:
    """One line of ``iokit dext list`` (``systemextensionsctl list``)."""

    bundle_id: str
    server: str
    pid: int | None
    state: str
    crashes: int
    crashes_total: int
    launches: int
    services: int
    version: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"bundle_id": self.bundle_id, "version": self.version, "server": self.server,
                "pid": self.pid, "state": self.state, "crashes_in_window": self.crashes,
                "crashes_total": self.crashes_total, "launches": self.launches,
                "services": self.services}
