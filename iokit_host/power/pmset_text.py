"""What ``pmset -g log`` and ``pmset -g assertions`` print (PowerManagement's ``pmset.m``), read
from one host's sleep/wake log and assertions.

The host clock counts from boot and has no calendar, so a time stamp is the Unix epoch plus
the host-clock time: boot is ``1970-01-01 00:00:00 +0000``. Log stamps carry milliseconds
(``00:00:10.100``), since a power change is milliseconds long; the assertions' date line has
pmset's own ``yyyy-MM-dd HH:mm:ss ZZZ``.

``pmset -g log``: a header of columns (Time stamp, Domain, Message, Duration, Delay), one line
per event in time order (``<stamp> <domain padded to 20>\\t<message>\\t<duration>``), and the
``Total Sleep/Wakes since boot`` line. System transitions read as powerd writes them
(``Entering Sleep state due to 'Software Sleep'``, ``Wake from Normal Sleep``); each driver
call names the driver's class, its registry path, the states and how long it took; a tardy
driver is a ``Kernel Client Acks`` line and a veto a ``Sleep Veto`` line naming who.

``pmset -g assertions``: the date line, ``Assertion status system-wide:`` (``   %-30s %d``),
``Listed by owning process:``, the kernel assertions and the idle sleep preventers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from iokit_host.power.assertions import Assertion
from iokit_host.power.log import PowerEvent, is_completed_sleep

__all__ = ["DOMAINS", "render_assertions", "render_log", "stamp"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STAMP_WIDTH = len("1970-01-01 00:00:00.000 +0000")
_DOMAIN_WIDTH = 20
_MESSAGE_WIDTH = 80

#: The Domain column for each event kind (powerd's names where it has one).
DOMAINS = {
    "system-sleep": "Sleep", "system-wake": "Wake", "set-power-state": "SetPowerState",
    "will-change": "WillChange", "did-change": "DidChange", "acknowledged": "Acknowledged",
    "ack-timeout": "Kernel Client Acks", "veto": "Sleep Veto", "idle-drop": "Idle Drop",
    "assertion": "Assertions", "message": "Notification", "watchdog": "Sleep/Wake Watchdog",
    "fault": "Failure", "request": "Request",
}
#: System-wide lines pmset always prints, in its order; other types only when set.
_ALWAYS_SHOWN = ("BackgroundTask", "ApplePushServiceTask", "UserIsActive",
                 "PreventUserIdleDisplaySleep", "PreventSystemSleep", "ExternalMedia",
                 "PreventUserIdleSystemSleep", "NetworkClientActive")
_SYSTEM = re.compile(r"^(sleep|idle sleep|wake) \((.*)\)(?:: (\w+))?$", re.DOTALL)


def stamp(t_ns: int, *, millis: bool = False) -> str:
    """The calendar stamp of host-clock time ``t_ns`` (``yyyy-MM-dd HH:mm:ss ZZZ``)."""
    when = _EPOCH + timedelta(microseconds=t_ns // 1000)
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    if millis:
        text += f".{when.microsecond // 1000:03d}"
    return f"{text} +0000"


# -- pmset -g log ---------------------------------------------------------------------------------
def render_log(events: Sequence[PowerEvent], *, dropped: int = 0,
               dropped_sleeps: int = 0) -> str:
    """The sleep/wake log as ``pmset -g log`` prints it; first, when the bounded log dropped
    ``dropped`` earlier records (``dropped_sleeps`` of them sleeps, still in the total), a
    line saying so."""
    header = (f"{'Time stamp':<{_STAMP_WIDTH}} {'Domain':<{_DOMAIN_WIDTH}}\t"
              f"{'Message':<{_MESSAGE_WIDTH}}\t{'Duration':<10}\t{'Delay':<10}")
    rule = (f"{'==========':<{_STAMP_WIDTH}} {'======':<{_DOMAIN_WIDTH}}\t"
            f"{'=======':<{_MESSAGE_WIDTH}}\t{'========':<10}\t{'=====':<10}")
    lines = [header, rule]
    if dropped:
        lines.append(f"({dropped} earlier records dropped: the log keeps only the most "
                     "recent ones)")
    lines.extend(_line(event) for event in events)
    sleeps = dropped_sleeps + sum(is_completed_sleep(e.kind, e.detail) for e in events)
    lines += ["", f"Total Sleep/Wakes since boot at {stamp(0)} :{sleeps}", ""]
    return "\n".join(lines)


def _line(event: PowerEvent) -> str:
    domain = DOMAINS.get(event.kind, event.kind)
    duration = f"{event.duration_ms / 1000:.3f} secs" if event.duration_ms is not None else ""
    message = _message(event).replace("\n", " ")
    return (f"{stamp(round(event.t_ms * 1_000_000), millis=True)} "
            f"{domain:<{_DOMAIN_WIDTH}}\t{message:<{_MESSAGE_WIDTH}}\t{duration}").rstrip()


def _message(event: PowerEvent) -> str:
    if event.kind in ("system-sleep", "system-wake"):
        return _system_message(event)
    if event.kind == "ack-timeout":
        return f"{event.class_name} is tardy: {event.detail} ({_where(event)})"
    if event.kind == "veto":
        return f"{event.detail} ({_where(event)})"
    if event.path is None and event.class_name is None:
        return event.detail
    change = ""
    if event.to_state is not None:
        origin = "?" if event.from_state is None else str(event.from_state)
        change = f" [{origin} -> {event.to_state}]"
    return f"{event.class_name} {_where(event)}{change}: {event.detail}"


def _system_message(event: PowerEvent) -> str:
    found = _SYSTEM.match(event.detail)
    if found is None:
        return event.detail
    what, reason, outcome = found.groups()
    if what == "wake":
        return f"Wake from Normal Sleep : due to '{reason}'"
    if outcome == "asleep":
        return f"Entering Sleep state due to '{reason}'"
    return f"{what.capitalize()} due to '{reason}' did not happen: {outcome}"


def _where(event: PowerEvent) -> str:
    return event.path or "(no longer in the registry)"


# -- pmset -g assertions ----------------------------------------------------------------------
def render_assertions(assertions: Iterable[Assertion], system_wide: dict[str, int],
                      idle_preventers: Sequence[str], now_ns: int) -> str:
    """``pmset -g assertions`` at host-clock time ``now_ns``."""
    lines = [f"{stamp(now_ns)} ", "Assertion status system-wide:"]
    shown = [name for name in _ALWAYS_SHOWN if name in system_wide]
    shown += [name for name, on in system_wide.items() if on and name not in _ALWAYS_SHOWN]
    lines += [f"   {name:<30} {system_wide[name]}" for name in shown]
    lines.append("Listed by owning process:")
    held = [_held(a, now_ns) for a in assertions]
    lines += held or ["   None"]
    lines.append("No kernel assertions.")
    if idle_preventers:
        lines.append(f"Idle sleep preventers: {', '.join(idle_preventers)}")
    return "\n".join(lines) + "\n"


def _held(assertion: Assertion, now_ns: int) -> str:
    age = max(0, now_ns - assertion.created_ns) // 1_000_000_000
    hours, rest = divmod(age, 3600)
    return (f"   pid {assertion.pid}({assertion.owner}): [0x{assertion.assertion_id:016x}] "
            f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d} {assertion.type} named: "
            f'"{assertion.name}" ')
