"""Lifecycle bookkeeping: busy counts, registry membership, and hot-plugged nub trees.

IOKit keeps a 10-bit busy count per service (``_adjustBusy``): a matching pass holds +1 on
its nub, a parked start holds +1, each termination victim holds +1 until it detaches. When a
count goes 0 -> nonzero its provider gains +1, and when it returns to 0 the provider loses
it, so a parent stays busy while any descendant is; ``waitQuiet`` waits for the root's count
to reach 0. ``registerService`` refuses a nub that is not attached up to the registry root.

The calls themselves (init, attach, probe, start, stop, detach, free, will/did terminate)
go through the hooks in :mod:`iokit_sdk.hookspecs`; docs/lifecycle.md gives their order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from iokit_sdk.keys import SERVICE_PLANE
from iokit_sdk.service import IOService

from iokit_host.errors import Diagnostic, IOKitError
from iokit_host.kernel.driver_calls import described

if TYPE_CHECKING:
    from iokit_host.clock import HostClock
    from iokit_host.kernel.protocol import WorkLoop
    from iokit_host.machine.model import NubSpec
    from iokit_host.matching.classes import ClassRegistry
    from iokit_host.registry import IORegistry

__all__ = ["BUSY_MAX", "NotAServiceError", "adjust_busy", "build_nub", "guarded_call", "is_registry_member"]

BUSY_MAX = 1023


def adjust_busy(service: IOService, delta: int, clock: HostClock, since: dict[int, int]) -> None:
    """Add ``delta`` to ``service``'s busy count, propagating 0<->nonzero changes upward.

    :param since: per-service time it became busy (keyed by ``id``), for accumulated busy time.
    """
    node: IOService | None = service
    now = clock.now_ns()
    while node is not None and delta:
        old = node._busy
        new = max(0, old + delta)
        node._busy = new
        if (old == 0) == (new == 0):
            return
        if new:
            since[id(node)] = now
        else:
            node._busy_time_ns += now - since.pop(id(node), now)
        delta = 1 if new else -1
        node = node.get_provider()


def is_registry_member(registry: IORegistry, service: IOService) -> bool:
    """True when ``service`` is attached in the IOService plane all the way up to the root."""
    if service is registry.plane_root(SERVICE_PLANE):
        return True
    # No step limit: the registry refuses a link that would make a loop (registry-cycle), so
    # the walk ends, and a nub 100,000 deep is as much a member as one near the root; the
    # registry remembers rooted entries, so registering a whole chain stays linear.
    return service.get_parent_entry(SERVICE_PLANE) is not None and registry.is_rooted(
        service, SERVICE_PLANE)


class NotAServiceError(IOKitError):
    reference = "nub-not-a-service"


def build_nub(classes: ClassRegistry, spec: NubSpec) -> IOService:
    """Instantiate ``spec`` (not its children) as an unattached service of its class."""
    cls = classes.resolve(spec.class_name, default_super="IOService")
    if not issubclass(cls, IOService):
        # A nub is published and matched: a plain registry entry can be neither.
        raise NotAServiceError(
            f"{spec.class_name} is not an IOService class, so it cannot be a nub",
            key="class", subject=spec.class_name,
            hint="plug a nub of an IOService subclass (IOPCIDevice, IOUSBHostDevice, ...)")
    return cls(dict(spec.properties), name=spec.name, location=spec.location)


def guarded_call(kernel: WorkLoop, reference: str, what: str, service: IOService,
                 call: Callable[[], Any], *, hint: str) -> None:
    """Make one driver call whose failure must not stop the caller (a stop, detach or free on
    the way out), guarded by the kernel's :class:`~iokit_host.kernel.driver_calls.DriverCalls`:
    an exception is reported under ``reference``, a hung call as ``driver-call-timeout``
    (``what`` names the call), and the caller goes on."""
    fault = kernel.driver_calls.call_discarding(call)
    if fault is not None:
        kernel.report(Diagnostic(
            fault.reference(reference), f"{described(service)}: {fault.reason(what)}",
            subject=service.iokit_class_name, hint=hint, context={"exception": fault.error}))
