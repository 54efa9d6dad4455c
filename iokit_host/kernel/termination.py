"""Termination: taking a service and the clients that depend on it out of the registry.

IOKit's ``terminate`` runs in phases (IOService.cpp ``terminatePhase1``, ``terminateWorker``):

1. breadth-first from the victim, each victim becomes inactive, loses its registered and
   matched states, takes +1 busy and fires ``IOServiceTerminate`` notifications; a client is
   terminated too only when the victim is its sole provider (``requestTerminate``);
2. ``willTerminate`` on every client of every victim, top-down; then, bottom-up, each
   victim's clients get ``message(kIOMessageServiceIsTerminated)`` and ``didTerminate``;
3. leaves first: ``stop`` then ``detach`` from each provider; a victim detached from its last
   provider drops its busy count to 0, leaves power management (``PMstop``) and is freed.

The three phases run here inside the ``terminate`` call, in that order, on the kernel's
single work loop (IOKit hands phase 2 to a terminate thread; the order is the same).
``TERMINATE_WITH_REMATCH`` re-registers the victim's provider after it detaches, which is
how IOKit re-runs matching after a driver is replaced. A driver that does it from its own
``start`` would be matched again without end: the matching pass bounds how often one
personality is tried on one nub (:mod:`iokit_host.kernel.rematch_limit`), so the rematch here
needs no bound of its own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from iokit_sdk.keys import SERVICE_PLANE
from iokit_sdk.messages import kIOMessageServiceIsTerminated
from iokit_sdk.service import (
    TERMINATE_NEED_WILL_TERMINATE,
    TERMINATE_WITH_REMATCH,
    IOService,
    ServiceState,
)

from iokit_host.kernel.lifecycle import guarded_call

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["terminate"]

_CLEARED = (ServiceState.REGISTERED | ServiceState.MATCHED | ServiceState.FIRST_PUBLISH
            | ServiceState.FIRST_MATCH)


#: Per kernel (by id), the terminations asked for while one runs: IOKit's terminate thread
#: list (``gIOTerminateWork``). A driver's ``terminate`` from inside a termination (a stop, a
#: notification handler) waits there instead of recursing into a termination half done: a
#: handler that terminates on every notification would otherwise recurse until Python's
#: limit, and the RecursionError would cut the host's phases short (busy counts left up).
_PENDING: dict[int, deque[tuple[IOService, int]]] = {}


def terminate(kernel: WorkLoop, victim: IOService, options: int = 0) -> list[IOService]:
    """Terminate ``victim`` and its sole-provider clients; returns the victims, top-down.

    Called while a termination runs, ``victim`` is queued and terminated when that one is
    done (before the outer call returns); the queued call returns no victims."""
    pending = _PENDING.get(id(kernel))
    if pending is not None:
        pending.append((victim, options))
        return []
    pending = _PENDING[id(kernel)] = deque()
    try:
        # Armed as the work loop is: termination is entered from outside it too (host.unplug).
        with kernel.driver_calls.watchdog.armed():
            victims = _terminate(kernel, victim, options)
            while pending:
                _terminate(kernel, *pending.popleft())
    finally:
        del _PENDING[id(kernel)]
    return victims


def _terminate(kernel: WorkLoop, victim: IOService, options: int) -> list[IOService]:
    victims = _phase1(kernel, victim)
    if not victims:
        return victims
    providers = [p for p in victim.get_parent_entries(SERVICE_PLANE) if isinstance(p, IOService)]
    _phase2(kernel, victims, providers if options & TERMINATE_NEED_WILL_TERMINATE else [],
            options)
    _phase3(kernel, victims)
    if options & TERMINATE_WITH_REMATCH:
        for provider in providers:
            if not provider.is_inactive():
                kernel.register_service(provider)
    return victims


def _phase1(kernel: WorkLoop, victim: IOService) -> list[IOService]:
    queue: deque[IOService] = deque([victim])
    victims: list[IOService] = []
    while queue:
        service = queue.popleft()
        if service.is_inactive():
            continue
        service._state = (service._state | ServiceState.INACTIVE) & ~_CLEARED
        kernel.adjust_busy(service, +1)
        victims.append(service)
        _guard(kernel, "notification-raised", "the terminated notification", service,
               partial(kernel.notify, "terminated", service))
        kernel.waiting.drop_nub(service)
        for client in service.get_clients():
            # requestTerminate: only a client whose sole provider is the victim goes too.
            if client.get_parent_entries(SERVICE_PLANE) == (service,):
                queue.append(client)
    return victims


def _phase2(kernel: WorkLoop, victims: list[IOService], providers: list[IOService],
            options: int) -> None:
    hook = kernel.hook
    root = victims[0]
    for provider in providers:
        _guard(kernel, "driver-will-terminate-raised", "will_terminate", root, partial(
            hook.iokit_will_terminate, service=root, provider=provider, options=options))
    for victim in victims:
        for client in victim.get_clients():
            _guard(kernel, "driver-will-terminate-raised", "will_terminate", client,
                   partial(hook.iokit_will_terminate, service=client, provider=victim,
                           options=options))
    for victim in reversed(victims):
        for client in victim.get_clients():  # messageClients(kIOMessageServiceIsTerminated)
            _guard(kernel, "driver-message-raised", "message", client, partial(
                hook.iokit_message, service=client, provider=victim, argument=None,
                message_type=kIOMessageServiceIsTerminated))
        kernel.interest.deliver(victim, kIOMessageServiceIsTerminated)  # applyToInterested
        for client in victim.get_clients():
            _guard(kernel, "driver-did-terminate-raised", "did_terminate", client,
                   partial(hook.iokit_did_terminate, service=client, provider=victim,
                           options=options))
    for provider in providers:
        _guard(kernel, "driver-did-terminate-raised", "did_terminate", root, partial(
            hook.iokit_did_terminate, service=root, provider=provider, options=options))


def _phase3(kernel: WorkLoop, victims: list[IOService]) -> None:
    # Reversed breadth-first order puts every victim after all of its descendants.
    for victim in reversed(victims):
        kernel.power.pm_stop(victim)  # PMstop, as drivers call it in stop(): out of the power tree
        for survivor in victim.get_clients():
            _stop_and_detach(kernel, survivor, victim)
        providers = [p for p in victim.get_parent_entries(SERVICE_PLANE)
                     if isinstance(p, IOService)]
        for index, provider in enumerate(providers):
            if index == len(providers) - 1:
                kernel.adjust_busy(victim, -victim.get_busy_state())
            _stop_and_detach(kernel, victim, provider)
        if not providers:
            kernel.adjust_busy(victim, -victim.get_busy_state())
        _finalize(kernel, victim)


def _stop_and_detach(kernel: WorkLoop, client: IOService, provider: IOService) -> None:
    hook = kernel.hook
    _guard(kernel, "driver-stop-raised", "stop", client,
           partial(hook.iokit_stop, service=client, provider=provider))
    _guard(kernel, "driver-detach-raised", "detach", client,
           partial(hook.iokit_detach, service=client, provider=provider))


def _finalize(kernel: WorkLoop, victim: IOService) -> None:
    _guard(kernel, "driver-free-raised", "free", victim,
           partial(kernel.hook.iokit_free, service=victim))
    kernel.registry.detach_all(victim)
    kernel.forget(victim)
    if victim is kernel.resources:
        kernel.resources = None


def _guard(kernel: WorkLoop, reference: str, what: str, service: IOService,
           call: Callable[[], Any]) -> None:
    guarded_call(kernel, reference, what, service, call, hint="termination went on without it")
