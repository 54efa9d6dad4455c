"""Event scenarios: hot-plug and power events applied to a booted host (``--events``).

On a Mac devices arrive and leave while the system runs (hot-plug: a bus driver publishes or
terminates a nub), drivers publish resources, the system sleeps and wakes, time passes, devices
see activity and processes take power assertions. A scenario file lists such events in TOML,
in order, each optionally at a time on the host clock: ``plug``, ``unplug``, ``publish``,
``sleep``, ``wake``, ``idle`` (an idle-sleep attempt), ``advance`` (``ms`` of the host clock),
``tickle`` (activity on a service's ``path``), ``assert`` and ``release`` (a power assertion by
``name`` and ``type``); docs/lifecycle.md documents the format.

A scenario is user input: a damaged event is reported (file, ``event[N]``, key, reason) and
skipped, and an event that cannot be applied (an unplug of a path that is not there) is
reported when its turn comes; the others still run. Only a file that cannot be read at all
refuses the whole scenario.
"""

from iokit_host.scenario.applying import (
    SYSTEM_TRANSITIONS,
    apply_events,
    reach,
    request_transition,
)
from iokit_host.scenario.events import MAX_AT_NS, Event, ScenarioError
from iokit_host.scenario.reading import events_from_tables, load_tables, read_events

__all__ = ["MAX_AT_NS", "SYSTEM_TRANSITIONS", "Event", "ScenarioError", "apply_events",
           "events_from_tables", "load_tables", "reach", "read_events", "request_transition"]
