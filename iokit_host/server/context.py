"""What the request handlers work on: the booted host and the kernel's user-space state.

One :class:`KernelContext` per running kernel: the host (registry, catalogue, work loop), the
open user-client connections, the programs' notifications and the entitlement policy. The
front end makes it; every request handler receives it with the session that sent the request.
A request's driver code runs through :class:`DriverWork`, the kernel as the server needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from iokit_sdk.service import IOService

from iokit_host.errors import Diagnostic
from iokit_host.host import IOKitHost
from iokit_host.server.handles import UserQuota
from iokit_host.server.notifications import UserNotifications
from iokit_host.userclient.connections import UserClients
from iokit_host.userclient.entitlements import EntitlementPolicy

__all__ = ["DriverWork", "KernelContext"]

T = TypeVar("T")


class DriverWork(Protocol):
    """The kernel as the server runs a request's driver code through it (the command gate's
    ``runAction``): checked as a work-loop job is, so what a driver changed in the host (the
    standard streams, shared modules, import hooks, the SDK's classes) is put back and the
    driver named. :class:`~iokit_host.kernel.workloop.IOKernel` is one."""

    def run_checked(self, work: Callable[[], T], where: str,
                    service: IOService | None = None) -> T: ...

    def checking(self) -> AbstractContextManager[None]: ...


@dataclass(eq=False)
class KernelContext:
    host: IOKitHost
    user_clients: UserClients
    notifications: UserNotifications
    policy: EntitlementPolicy
    #: The connections' events (refused peers, version mismatches): the front end prints
    #: and forgets them, unlike the host's diagnostics, which tools list and which must not
    #: grow with every client a flood brings.
    log: list[Diagnostic] = field(default_factory=list)
    #: The objects each user's connections hold together (``MAX_HANDLES_PER_USER``).
    handle_quota: UserQuota = field(default_factory=UserQuota)

    @property
    def driver_work(self) -> DriverWork:
        """The kernel, as a request's driver code runs through it."""
        return self.host.kernel

    @classmethod
    def for_host(cls, host: IOKitHost,
                 policy: EntitlementPolicy | None = None) -> KernelContext:
        """The context of a booted ``host``."""
        return cls(host, UserClients(host.kernel), UserNotifications(host.kernel),
                   policy or EntitlementPolicy())
