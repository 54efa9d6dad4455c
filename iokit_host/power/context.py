"""What the power manager's parts share: a narrow protocol over :class:`~.manager.PowerManager`.

As the kernel's parts are typed against ``WorkLoop``, the power package's parts (changes,
acknowledgements, idle timers, the root domain) see the manager only through
:class:`PowerContext`: the host clock, the sleep/wake log, the PM work queue, the kernel (for
hooks, guarded driver calls and diagnostics) and the per-service blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

    from iokit_host.clock import HostClock
    from iokit_host.kernel.protocol import WorkLoop
    from iokit_host.power.log import PowerLog
    from iokit_host.power.pm import ServicePM
    from iokit_host.power.queue import WorkQueue

__all__ = ["PowerContext"]


class PowerContext(Protocol):
    clock: HostClock
    log: PowerLog
    queue: WorkQueue
    kernel: WorkLoop

    def kick(self) -> None:
        """Run queued PM work now, or as soon as the driver call in progress returns."""

    def pm_of(self, service: IOService) -> ServicePM | None:
        """``service``'s power-management block, when it has one (and has not stopped)."""
