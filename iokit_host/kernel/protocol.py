"""What the kernel's parts need from the work loop: a narrow protocol, not the concrete kernel.

In IOKit a family's code reaches the work loop through ``IOWorkLoop``/``IOCommandGate`` and the
few ``IOService`` entry points it needs, never through the kernel's internals. Likewise here the
matching pass driver, termination, waiting, kext loading and the built-in plugin are typed
against :class:`WorkLoop`; :class:`~iokit_host.kernel.workloop.IOKernel` implements it, and a test
can hand a part anything that does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from iokit_sdk.service import Kernel

if TYPE_CHECKING:
    import pluggy
    from iokit_sdk.service import IOService

    from iokit_host.clock import HostClock
    from iokit_host.errors import Diagnostic
    from iokit_host.kernel.driver_calls import DriverCalls
    from iokit_host.kernel.interest import Interest
    from iokit_host.kernel.notifications import Notifications
    from iokit_host.kernel.plugins import HostPluginManager
    from iokit_host.kernel.waiting import WaitingQueue
    from iokit_host.kext.resolver import Resolution
    from iokit_host.matching.catalogue import IOCatalogue
    from iokit_host.matching.classes import ClassRegistry
    from iokit_host.registry import IORegistry

__all__ = ["Reporter", "WorkLoop"]

T = TypeVar("T")


class Reporter(Protocol):
    """Where a diagnostic goes: the host's log (``IOLog`` and the kext log)."""

    def report(self, diagnostic: Diagnostic) -> None: ...


class WorkLoop(Kernel, Reporter, Protocol):
    """The work loop as its parts see it: the SDK's :class:`~iokit_sdk.service.Kernel` (what a
    service may ask), the state the loop owns, and the requests it serialises."""

    registry: IORegistry
    classes: ClassRegistry
    catalogue: IOCatalogue
    clock: HostClock
    resolution: Resolution | None
    waiting: WaitingQueue
    notifications: Notifications
    interest: Interest
    resources: IOService | None
    driver_calls: DriverCalls
    plugin_manager: HostPluginManager

    @property
    def hook(self) -> pluggy.HookRelay:
        """The hook relay every driver call leaves through."""

    def adjust_busy(self, service: IOService, delta: int) -> None: ...
    def notify(self, kind: str, service: IOService) -> None: ...
    def forget(self, service: IOService) -> None: ...
    def ensure_resources(self) -> IOService: ...
    def copy_matching_services(self, matching: Mapping[str, Any]) -> list[IOService]: ...
    def run_until_quiet(self) -> int: ...
    def pending_jobs(self) -> int: ...
    def on_loop_thread(self) -> bool: ...
    def run_checked(self, work: Callable[[], T], where: str,
                    service: IOService | None = None) -> T: ...
    def link(self, service: IOService, provider: IOService) -> bool: ...
    def unlink(self, service: IOService, provider: IOService) -> None: ...
    def start_matching(self, service: IOService, options: int = 0) -> bool: ...
