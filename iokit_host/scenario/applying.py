"""Applying a scenario's events to a booted host, in order, each at its time on the host
clock: hot-plug (``plug``, ``unplug``, ``publish``), system power (``sleep``, ``wake``,
``idle``), the clock (``advance``), device activity (``tickle``) and power assertions
(``assert``, ``release``). An event that cannot be applied is reported
(``scenario-event-failed``) and the next one runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from iokit_host.errors import Diagnostic, IOKitError, Severity, quoted
from iokit_host.scenario.events import Event, ScenarioError

if TYPE_CHECKING:
    from iokit_host.host import IOKitHost
    from iokit_host.power.rootdomain import Transition

__all__ = ["SYSTEM_TRANSITIONS", "apply_events", "reach", "request_transition"]


def apply_events(host: IOKitHost, events: list[Event]) -> list[str]:
    """Apply ``events`` in order; returns one line per event, for ``iokit boot`` to print.

    An event that cannot be applied is reported on the host (``scenario-event-failed``) and
    the next one runs."""
    lines: list[str] = []
    for position, event in enumerate(events):
        index = event.index if event.index is not None else position
        reach(host, event)
        try:
            lines.extend(_apply_one(host, event))
        except IOKitError as error:
            message = error.diagnostic.message
            lines.append(f"[t={host.clock.now_ns()}ns] skipped {event.action}: {message}")
            host.kernel.report(Diagnostic(
                "scenario-event-failed", f"{event.action} event {index}: {message}",
                subject=event.target or event.resource or event.name,
                hint=error.diagnostic.hint or _HINTS.get(event.action, _HINTS["plug"]),
                severity=Severity.WARNING))
    return lines


def reach(host: IOKitHost, event: Event) -> None:
    """Move the host clock to the event's ``at`` time, when it has one still ahead."""
    if event.at_ns is not None and event.at_ns > host.clock.now_ns():
        host.clock.advance_to(event.at_ns)
        host.power.advance(0)  # the PM work the timers on the way started, done


_HINTS = {
    "plug": "name the nub by a registry path or a name `iokit ioreg` shows",
    "tickle": "tickle a power-managed service (one `iokit ioreg -p IOPower` shows) by its "
              "registry path or name",
    "assert": "see `iokit pmset -g assertions` for the assertions a scenario holds",
    "release": "release an assertion an earlier assert event created, by its name and type",
}


def _apply_one(host: IOKitHost, event: Event) -> list[str]:
    at = f"[t={host.clock.now_ns()}ns]"
    power = _POWER_APPLIERS.get(event.action)
    if power is not None:
        return [f"{at} {power(host, event)}"]
    if event.action == "plug":
        assert event.nub is not None and event.target is not None
        nub = host.plug(event.nub, event.target)
        drivers = ", ".join(d.iokit_class_name for d in host.drivers_of(nub)) or "no driver"
        return [f"{at} plugged {host.path_of(nub)}: {drivers}"]
    if event.action == "unplug":
        assert event.target is not None
        victims = host.unplug(event.target)
        return [f"{at} unplugged {event.target}: terminated "
                + ", ".join(v.iokit_class_name for v in victims)]
    assert event.resource is not None
    before = set(host.kernel.binder.started)
    host.publish_resource(event.resource)
    started = [d.iokit_class_name for d in host.kernel.binder.started if d not in before]
    return [f"{at} published {event.resource}: started {', '.join(started) or 'nothing'}"]


# -- power events -----------------------------------------------------------------------------
#: Each system transition an event asks for: the power manager's name for it, the reason it
#: gives by default (pmset's), and how its line names it.
SYSTEM_TRANSITIONS = {"sleep": ("sleep", "Software Sleep", "sleep"),
                      "wake": ("wake", "User Activity", "wake"),
                      "idle": ("idle", "Idle Sleep", "idle sleep")}


def request_transition(host: IOKitHost, event: Event) -> tuple[Transition, str]:
    """Ask for the system transition of a ``sleep``, ``wake`` or ``idle`` event, run as far
    as it goes without moving the clock; with the start of its line (``transition_line``)."""
    kind, default, label = SYSTEM_TRANSITIONS[event.action]
    reason = event.reason or default
    return host.power.request_transition(kind, reason), f"{label} ({reason})"


def _system_transition(host: IOKitHost, event: Event) -> str:
    transition, label = request_transition(host, event)
    host.power.run_until_idle()  # to its end: late answers are waited for on the host clock
    # Not done when power management stalled (``power-stalled`` says why and names whom).
    return f"{label}: {transition.result or 'unfinished (power management stalled)'}"


def _advance_clock(host: IOKitHost, event: Event) -> str:
    assert event.ms is not None
    host.advance(event.ms)
    return f"advanced {event.ms:g} ms to t={host.clock.now_ns()}ns"


def _tickle_service(host: IOKitHost, event: Event) -> str:
    assert event.target is not None
    service = host.find(event.target)
    if service is None:
        raise ScenarioError(f"no service {quoted(event.target)} in the IOService plane",
                            key=event.target)
    pm = host.power.pm_of(service)
    if pm is None or pm.table is None:
        raise ScenarioError(f"{event.target} is not power managed (no power-state table)",
                            key=event.target)
    host.power.tickle(service, event.state)
    return (f"tickled {host.path_of(service)}: {service.iokit_class_name} in state "
            f"{host.power.power_state(service)}")


def _assert(host: IOKitHost, event: Event) -> str:
    assert event.assertion_type is not None and event.name is not None
    created = host.power.create_assertion(event.assertion_type, event.name, level=event.level,
                                          owner=event.owner, pid=event.pid)
    return (f'asserted {created.type} "{created.name}" '
            f"[0x{created.assertion_id:016x}] level {created.level}")


def _release(host: IOKitHost, event: Event) -> str:
    held = [a for a in host.power.assertions.active()
            if a.name == event.name and a.type == event.assertion_type]
    if not held:
        raise ScenarioError(f'no {event.assertion_type} assertion named "{event.name}" is held',
                            key=event.name)
    host.power.release_assertion(held[-1].assertion_id)
    return f'released {held[-1].type} "{held[-1].name}" [0x{held[-1].assertion_id:016x}]'


_POWER_APPLIERS: dict[str, Callable[[IOKitHost, Event], str]] = {
    "sleep": _system_transition, "wake": _system_transition, "idle": _system_transition,
    "advance": _advance_clock,
    "tickle": _tickle_service, "assert": _assert, "release": _release}
