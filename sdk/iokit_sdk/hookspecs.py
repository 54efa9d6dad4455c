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
