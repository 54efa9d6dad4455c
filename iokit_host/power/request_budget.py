"""A driver's power requests counted while power management has work: past a budget, refused.

IOKit queues each ``changePowerStateTo``, ``makeUsable`` or ``activityTickle`` on the PM work
loop; a driver that asks again and again (from its own thread in a loop, or from
``setPowerState`` for the state it just left) keeps that work loop busy without end, and
every other change (a system sleep) waits behind it. Here each service's requests are counted
while power management has work waiting; past :data:`MAX_REQUESTS` the service's further
requests are refused (``kIOReturnBusy``) and it is named once (``power-requests-runaway``),
until the work is done and the counts start again. The busiest service is also the one a
stall (``power-stalled``) names.
"""

from __future__ import annotations

from collections.abc import Callable

from iokit_sdk.service import IOService

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.driver_calls import described

__all__ = ["MAX_REQUESTS", "RequestBudget"]

#: Power requests one service may make while power management has work waiting; a system
#: sleep of a large tree asks each driver for a few, a driver in a loop for millions.
MAX_REQUESTS = 1_000


class RequestBudget:
    """The requests of each service since power management last had nothing to do."""

    def __init__(self, report: Callable[[Diagnostic], None]) -> None:
        self._report = report
        self._counts: dict[int, int] = {}  # by id(service), since PM last had nothing to do
        self._services: dict[int, IOService] = {}
        #: By id(service), since :meth:`watch`: the host waits for PM work meanwhile.
        self._watched: dict[int, int] = {}

    def take(self, service: IOService, call: str) -> bool:
        """Count one request of ``service`` (``call`` names it); False when it is past its
        budget (said once, when it first is)."""
        key = id(service)
        watched = self._watched
        watched[key] = watched.get(key, 0) + 1
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        self._services[key] = service
        if count > MAX_REQUESTS:
            if count == MAX_REQUESTS + 1:
                self._refuse(service, call)
            return False
        return True

    def spent(self, service: IOService) -> bool:
        """Is ``service`` past its budget? Read only, so a driver's thread may ask: its
        requests are refused there, not queued without end for the loop to refuse."""
        return self._counts.get(id(service), 0) > MAX_REQUESTS

    def reset(self) -> None:
        """Power management has nothing left to do: every service starts afresh (a service
        :meth:`watch` counts is still known by name)."""
        if self._counts:
            self._counts.clear()
            self._services = {key: self._services[key] for key in self._watched
                              if key in self._services}

    def watch(self) -> None:
        """The host begins to wait for PM work to end: :meth:`busiest` counts from now."""
        self._watched = {}
        self._services = {key: self._services[key] for key in self._counts}

    def busiest(self) -> tuple[IOService, int] | None:
        """The service that made the most requests since :meth:`watch`, and how many; None
        when none made more than a few (they did not keep power management busy)."""
        watched = dict(self._watched)  # a driver's thread may be adding to it
        key = max(watched, key=watched.__getitem__, default=None)
        service = self._services.get(key) if key is not None else None
        if key is None or service is None or watched[key] < _FEW:
            return None
        return service, watched[key]

    def _refuse(self, service: IOService, call: str) -> None:
        self._report(Diagnostic(
            "power-requests-runaway", f"{described(service)} made more than {MAX_REQUESTS} "
            f"power requests (the last {call}) while power management had work waiting; "
            "its further requests are refused (kIOReturnBusy) until that work is done",
            subject=service.iokit_class_name, severity=Severity.WARNING,
            hint="a driver must not ask for power changes without end (in a loop of its own "
                 "thread, or from set_power_state for the state it leaves): ask once for the "
                 "state it needs"))


#: Fewer requests than this do not make a service the one a stall names.
_FEW = 10
