"""The hook specifications of project ``iokit``: every lifecycle call the kernel makes.

IOKit's kernel calls a driver's virtual methods (``init``, ``attach``, ``probe``, ``start``,
``stop``, ``willTerminate``, ...) and delivers matching notifications to installed notifiers.
Here each of those calls is a pluggy hook. The host's built-in plugin implements every hook
by calling the method of the service object it receives (pytest's pattern:
``pytest_runtest_call(item)`` calls ``item.runtest()``), so drivers stay plain
:class:`~iokit_sdk.service.IOService` subclasses and host plugins can wrap any call with
``@hookimpl(wrapper=True)`` (tracing, timing, fault injection) or replace it in a test with
``@hookimpl(tryfirst=True)`` returning a value.

Hooks that return a value are ``firstresult``: the first non-None result wins and the
built-in implementation runs last (``trylast``). Every hook receives the service object as
``service``. docs/lifecycle.md lists these hooks in the order they fire; a test keeps the
two in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Mapping

    from iokit_sdk.service import IOService

__all__ = ["PROJECT", "hookimpl", "hookspec"]

#: The pluggy project name; host plugins load from the entry-point group of the same name.
PROJECT = "iokit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- matching -------------------------------------------------------------------------------
@hookspec(firstresult=True)
def iokit_init(service: IOService, properties: Mapping[str, Any]) -> bool | None:
    """Initialise a freshly allocated driver with its personality copy (``init(OSDictionary*)``).

    :param service: the instance of the personality's ``IOClass``, not yet attached.
    :param properties: the matched personality copy (with ``IONameMatched``, ``IOMatchCategory``
        and ``CFBundleIdentifier``); it becomes the driver's property table.
    :returns: False to refuse, which drops the candidate.

    Fires in the matching pass of a nub, once per candidate that survived passive matching,
    right after its kext is loaded and its class allocated, before ``iokit_attach``.
    """


@hookspec(firstresult=True)
def iokit_attach(service: IOService, provider: IOService) -> bool | None:
    """Link ``service`` under ``provider`` in the IOService plane (``attach``).

    :param service: the client being attached (a driver candidate or a new nub).
    :param provider: the service it attaches to.
    :returns: True when linked; False when refused (for example, an inactive provider).

    Fires before ``iokit_probe`` (the candidate is attached while it probes), again before
    ``iokit_start``, and whenever a driver attaches a nub of its own (``nub.attach(self)``).
    """


@hookspec(firstresult=True)
def iokit_probe(service: IOService, provider: IOService, score: int) -> int | None:
    """Confirm a passive match while attached to ``provider`` (``probe``).

    :param service: the candidate driver, attached to ``provider``.
    :param provider: the nub being matched.
    :param score: the probe score after passive and family matching.
    :returns: the (possibly changed) score, or None to decline the match.

    Fires in the matching pass, for every candidate of every category, after ``iokit_attach``
    and before ``iokit_detach``; all candidates probe before any of them starts.
    """


@hookspec(firstresult=True)
def iokit_start(service: IOService, provider: IOService) -> bool | None:
    """Start the best candidate of a match category on ``provider`` (``start``).

    :param service: the candidate, attached to ``provider`` again.
    :param provider: the nub it matched.
    :returns: True when started; False (or an exception) lets the next candidate of the
        same category try, after ``iokit_detach``.

    Fires in the matching pass after every candidate has probed, once the resources named by
    ``IOResourceMatch`` are published; a driver publishes its own nubs from here.
    """


@hookspec
def iokit_stop(service: IOService, provider: IOService) -> None:
    """Undo ``start`` (``stop``).

    :param service: the terminating driver or nub.
    :param provider: the provider it is being stopped on.

    Fires in termination phase 3, leaves first, after ``iokit_did_terminate`` and right
    before ``iokit_detach`` from that provider.
    """


@hookspec
def iokit_detach(service: IOService, provider: IOService) -> None:
    """Remove the IOService-plane link between ``service`` and ``provider`` (``detach``).

    :param service: the client being detached.
    :param provider: the service it was attached to.

    Fires after ``iokit_probe`` for every candidate, after a failed ``iokit_start``, and in
    termination phase 3 right after ``iokit_stop``.
    """


@hookspec
def iokit_free(service: IOService) -> None:
    """Release what ``init`` took (``free``).

    :param service: a terminated service, or a candidate that lost or declined.

    Fires once per service: after a terminated service detached from its last provider,
    and at the end of a matching pass for candidates that were never started.
    """


@hookspec(firstresult=True)
def iokit_register_service(service: IOService, options: int) -> bool | None:
    """Publish ``service`` so a matching pass runs on it (``registerService``).

    :param service: a nub attached all the way up to the registry root.
    :param options: ``registerService`` option bits (``SYNCHRONOUS`` = 0x2 runs it inline).
    :returns: True when the matching pass was queued or run, False when refused.

    Fires when the machine's nubs are published at boot, when a driver calls
    ``nub.register_service()`` from ``start``, on hot-plug, and when a resource is published
    (``IOResources`` registers again).
    """


# -- termination ----------------------------------------------------------------------------
@hookspec(firstresult=True)
def iokit_will_terminate(service: IOService, provider: IOService, options: int) -> bool | None:
    """``provider`` is terminating (``willTerminate``).

    :param service: a client of the terminating provider.
    :param provider: the victim.
    :param options: the ``terminate`` option bits.
    :returns: True (the value is informational, as in IOKit).

    Fires in termination phase 2, top-down, after the ``iokit_terminated`` notifications of
    every victim and before any ``iokit_did_terminate``.
    """


@hookspec(firstresult=True)
def iokit_did_terminate(service: IOService, provider: IOService, options: int) -> bool | None:
    """``provider`` finished terminating (``didTerminate``).

    :param service: a client of the terminated provider.
    :param provider: the victim.
    :param options: the ``terminate`` option bits.
    :returns: True (the value is informational, as in IOKit).

    Fires in termination phase 2, bottom-up (leaves first), after every ``iokit_will_terminate``
    and before the client's ``iokit_stop``.
    """


# -- matching notifications -----------------------------------------------------------------
@hookspec
def iokit_publish(service: IOService) -> None:
    """``IOServicePublish``: a matching pass starts on ``service``.

    :param service: the registered nub.

    Fires in every matching pass that follows a (re)registration, after
    ``iokit_first_publish`` (on the first pass) and before any candidate probes.
    """


@hookspec
def iokit_first_publish(service: IOService) -> None:
    """``IOServiceFirstPublish``: ``service`` is published for the first time.

    :param service: the registered nub.

    Fires once per service lifetime, at the start of its first matching pass, before
    ``iokit_publish``.
    """


@hookspec
def iokit_matched(service: IOService) -> None:
    """``IOServiceMatched``: a matching pass on ``service`` finished.

    :param service: the nub, now in the matched state and visible to lookups.

    Fires at the end of every completed matching pass, after its drivers started, before
    ``iokit_first_match``.
    """


@hookspec
def iokit_first_match(service: IOService) -> None:
    """``IOServiceFirstMatch``: the first matching pass on ``service`` finished.

    :param service: the nub.

    Fires once per service lifetime, right after its first ``iokit_matched``.
    """


@hookspec
def iokit_terminated(service: IOService) -> None:
    """``IOServiceTerminate``: ``service`` became inactive.

    :param service: a victim of termination.

    Fires in termination phase 1, top-down (breadth-first from the terminated service),
    once per victim, before any ``iokit_will_terminate``.
    """


# -- power management -----------------------------------------------------------------------
@hookspec(firstresult=True)
def iokit_set_power_state(service: IOService, ordinal: int, device: IOService) -> int | None:
    """Move ``device`` to state ``ordinal`` (``setPowerState``, on the controlling driver).

    :param service: the controlling driver registered with ``register_power_driver``
        (usually ``device`` itself).
    :param ordinal: the index of the new state in the registered table.
    :param device: the power-managed service whose state changes.
    :returns: ``kIOPMAckImplied`` (0) or a negative value when done; a positive value is the
        longest wait in µs (at least 10 s is waited) before the kernel flags the driver
        ``IOPMTardyAckSetPowerState`` and goes on.

    Fires once per power change of ``device``: after ``iokit_power_state_will_change_to`` on
    its interested drivers (and, for a drop, after its power children dropped), before
    ``iokit_power_state_did_change_to``. A system sleep fires it leaves first, a wake root
    first.
    """


@hookspec(firstresult=True)
def iokit_power_state_will_change_to(service: IOService, capabilities: int, ordinal: int,
                                     device: IOService) -> int | None:
    """``device`` is about to enter state ``ordinal`` (``powerStateWillChangeTo``).

    :param service: an interested driver of ``device`` (``register_interested_driver``, or the
        controlling driver when it overrides the method).
    :param capabilities: the capability flags of the new state.
    :param ordinal: the new state's index.
    :param device: the power-managed service whose state changes.
    :returns: 0 when done, or a wait in µs ended by ``device.acknowledge_power_change``; a
        late driver is flagged ``IOPMTardyAckPowerStateChange``.

    Fires at the start of each power change of ``device``, before its power children are
    told and before ``iokit_set_power_state``.
    """


@hookspec(firstresult=True)
def iokit_power_state_did_change_to(service: IOService, capabilities: int, ordinal: int,
                                    device: IOService) -> int | None:
    """``device`` entered state ``ordinal`` (``powerStateDidChangeTo``).

    :param service: an interested driver of ``device``.
    :param capabilities: the capability flags of the new state.
    :param ordinal: the new state's index.
    :param device: the power-managed service whose state changed.
    :returns: 0 when done, or a wait in µs ended by ``device.acknowledge_power_change``.

    Fires after ``iokit_set_power_state`` of each power change of ``device``; on a rise,
    before its power children rise.
    """


@hookspec(firstresult=True)
def iokit_message(service: IOService, message_type: int, provider: IOService | None,
                  argument: Any) -> int | None:
    """Deliver a ``kIOMessage*`` message to ``service`` (``message``).

    :param service: the client the message is for.
    :param message_type: the message (``iokit_sdk.messages``: ``kIOMessageCanSystemSleep``,
        ``kIOMessageSystemWillSleep``, ``kIOMessageSystemWillPowerOn``,
        ``kIOMessageSystemHasPoweredOn``, ``kIOMessageServiceIsTerminated``, ...).
    :param provider: the service sending it (the root domain, or the terminated provider).
    :param argument: an ``IOPowerStateChangeNotification`` for the sleep questions, else None.
    :returns: an IOReturn (``kIOReturnSuccess`` = 0 answers a sleep question at once).

    Fires for system messages on the clients of ``register_priority_sleep_wake_interest``:
    can-system-sleep before an idle sleep, will-sleep before the power tree drops,
    will-power-on and has-powered-on around a wake (or after a vetoed idle sleep); and in
    termination phase 2, bottom-up, with ``kIOMessageServiceIsTerminated`` on each client of
    a victim before its ``iokit_did_terminate``.
    """


# -- user clients ---------------------------------------------------------------------------
@hookspec(firstresult=True)
def iokit_new_user_client(service: IOService, owning_task: Any, security_id: Any, type: int,
                          properties: Mapping[str, Any] | None) -> Any:
    """Make a user client for a program opening ``service`` (``newUserClient``).

    :param service: the service named in ``IOServiceOpen``.
    :param owning_task: the caller's :class:`~iokit_sdk.userclient.OwningTask` (pid, uid, gid,
        name, entitlements), learnt by the kernel from the socket.
    :param security_id: the caller's security token (the task again, as in IOKit).
    :param type: the connection type the caller passed to ``IOServiceOpen``.
    :param properties: the open's properties (None: IOKitLib passes none).
    :returns: a new, unattached ``IOUserClient``, or an IOReturn code refusing the open.

    Fires once per ``IOServiceOpen``, before the client's ``init_with_task``, ``iokit_attach``
    and ``iokit_start``; the built-in implementation calls ``service.new_user_client`` and,
    when that returns None, instantiates the class named by ``IOUserClientClass``.
    """


@hookspec(firstresult=True)
def iokit_external_method(service: IOService, selector: int, arguments: Any) -> int | None:
    """Run one call of a user client (``externalMethod``).

    :param service: the open ``IOUserClient``.
    :param selector: the method number the caller passed to ``IOConnectCallMethod``.
    :param arguments: the :class:`~iokit_sdk.userclient.IOExternalMethodArguments`, whose
        outputs the method fills.
    :returns: the call's IOReturn.

    Fires for every ``IOConnectCall*Method`` on an open connection, after the kernel checked
    the 16-scalar and struct transport limits and before the reply is sent.
    """


@hookspec(firstresult=True)
def iokit_client_close(service: IOService) -> int | None:
    """The caller closed its connection (``clientClose``).

    :param service: the ``IOUserClient`` being closed.
    :returns: an IOReturn (informational).

    Fires at most once per connection: on ``IOServiceClose``, after ``iokit_client_died`` when
    the caller dies (unless that terminated the client), when an open fails after the client
    was made, and at kernel shutdown.
    """


@hookspec(firstresult=True)
def iokit_client_died(service: IOService) -> int | None:
    """The caller's process died or dropped its connection (``clientDied``).

    :param service: an ``IOUserClient`` the process had open and not closed.
    :returns: an IOReturn (informational).

    Fires once per open connection of a process whose socket closed without
    ``IOServiceClose``, right before that connection's ``iokit_client_close`` (which does not
    fire when this terminated the client, e.g. by calling ``client_close`` itself).
    """
