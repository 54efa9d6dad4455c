"""TOML's dates and times in a scenario: refused where they stand, by both readers.

IOKit has no date value: a registry property is an ``OSString``, ``OSNumber``, ``OSData``,
``OSBoolean``, ``OSArray``, ``OSDictionary`` or ``OSSet`` (a plist's ``<date>`` has no
libkern counterpart), and no event key takes a calendar time (``at-ns`` counts host-clock
nanoseconds). TOML reads ``when = 1979-05-27`` as a date, so a scenario may hold one anywhere.
``iokit boot --events`` reads the tables as TOML gives them; ``iokit event`` sends them to a
running kernel, which only carries built-in scalars. Both refuse a date or time with this one
check, so the same file loses the same event, with the same words, on either path.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from iokit_host.scenario.events import ScenarioError

__all__ = ["refuse_datetimes"]

_KINDS = ((datetime.datetime, "date-time"), (datetime.date, "date"), (datetime.time, "time"))


def refuse_datetimes(raw: Any, where: str, file: str) -> None:
    """Raise :class:`ScenarioError` naming the first date or time in ``raw`` (an event's
    table), in the file's order, by its key (``event[2].nub.properties.when``).

    The walk is an explicit stack (a table of any depth), and visits each value once."""
    stack: list[tuple[Any, str]] = [(raw, where)]
    while stack:
        value, key = stack.pop()
        if isinstance(value, Mapping):
            stack.extend((v, f"{key}.{k}") for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((v, f"{key}[{i}]") for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, (datetime.date, datetime.time)):
            kind = next(name for cls, name in _KINDS if isinstance(value, cls))
            raise ScenarioError(
                f"a TOML {kind} ({value.isoformat()}) is not a value an event takes",
                file=file, key=key,
                hint="IOKit has no date value: write a time on the host clock as 'at-ns' "
                     "nanoseconds, or a property as text in quotes")
