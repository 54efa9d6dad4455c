"""A scenario's events applied to a running kernel, whose programs answer power messages.

``iokit boot --events`` runs a sleep to its end on the host clock: nothing else runs, so a late
answer is one that never comes. In a running kernel the programs registered with
``IORegisterForSystemPower`` answer ``IOAllowPowerChange`` from their own processes, in wall
time, while the kernel serves them; as IOPMrootDomain waits up to 30 s for those answers
before it sleeps. So here a ``sleep``, ``wake`` or ``idle`` event runs on the host clock only
until a program is asked; when it then waits for answers, the events after it wait too: the
request ends there (:class:`Waiting` says where), the client asks ``tool.event_wait`` for the
transition's line once it is done, then sends the rest. Every other event applies as in
``iokit boot --events``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from iokit_host.scenario import SYSTEM_TRANSITIONS, Event, apply_events, reach, request_transition
from iokit_host.userclient.rootdomain import RootDomainUserClient

if TYPE_CHECKING:
    from iokit_host.host import IOKitHost
    from iokit_host.power.rootdomain import Transition

__all__ = ["Waiting", "apply_live"]


@dataclass(frozen=True)
class Waiting:
    """A system transition a scenario asked for that waits for programs' answers.

    :param transition: the transition; its ``result`` is set once it ran.
    :param start: its line up to the result (``[t=...ns] sleep (Software Sleep)``).
    :param resume: the file index of the event after it (``event[N]``), where the rest of
        the scenario starts.
    """

    transition: Transition
    start: str
    resume: int

    def line(self) -> str | None:
        """The event's line once the transition ran (as ``iokit boot --events`` prints it),
        None while it waits."""
        result = self.transition.result
        return None if result is None else f"{self.start}: {result}"


def _programs_owe(host: IOKitHost) -> bool:
    """True while a program (a root-domain user client) owes an answer to a power message."""
    return any(isinstance(client, RootDomainUserClient) for client in host.power.clients.owing())


def apply_live(host: IOKitHost, events: list[Event]) -> tuple[list[str], Waiting | None]:
    """Apply ``events`` in order until a system transition waits for answers; the lines of
    those applied, and the transition that waits (None when every event applied)."""
    lines: list[str] = []
    for position, event in enumerate(events):
        if event.action not in SYSTEM_TRANSITIONS:
            lines += apply_events(host, [event])
            continue
        reach(host, event)
        at = f"[t={host.clock.now_ns()}ns]"
        transition, label = request_transition(host, event)
        # Driven on the host clock, as in a boot, up to a question a program has to answer:
        # from there the kernel's clock runs in wall time (:class:`.live_clock.LiveClock`).
        host.power.run_until_idle(until=lambda: _programs_owe(host))
        index = event.index if event.index is not None else position
        waiting = Waiting(transition, f"{at} {label}", index + 1)
        line = waiting.line()
        if line is None:
            return lines, waiting
        lines.append(line)
    return lines, None
