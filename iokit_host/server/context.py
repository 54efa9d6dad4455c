"""What the request handlers work on: the booted host and the kernel's user-space state.

One :class:`KernelContext` per running kernel: the host (registry, catalogue, work loop), the
open user-client connections, the programs' notifications and the entitlement policy. The
front end makes it; every request handler receives it with the session that sent the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from iokit_host.errors import Diagnostic
from iokit_host.host import IOKitHost
from iokit_host.server.notifications import UserNotifications
from iokit_host.userclient.connections import UserClients
from iokit_host.userclient.entitlements import EntitlementPolicy

__all__ = ["KernelContext"]


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

    @classmethod
    def for_host(cls, host: IOKitHost,
                 policy: EntitlementPolicy | None = None) -> KernelContext:
        """The context of a booted ``host``."""
        return cls(host, UserClients(host.kernel), UserNotifications(host.kernel),
                   policy or EntitlementPolicy())
