"""The tools' side of the socket: what ``iokit ioreg --kernel`` and friends ask a running kernel.

Each function opens a :class:`~iokit_sdk.iokitlib.port.MainPort`, asks one ``tool.*`` request
and rebuilds the host's own records from the reply, so the tool prints them with the code it
uses after booting a host of its own. A kernel that cannot be reached, refuses us or speaks
another protocol version is an :class:`~iokit_host.errors.IOKitError` naming the socket.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

from iokit_sdk.iokitlib.pmlib import all_assertions
from iokit_sdk.iokitlib.port import KernelConnectionError, MainPort
from iokit_sdk.iokitlib.wire import MAX_REQUEST_FRAME
from iokit_sdk.returns import IOReturnError
from iokit_sdk.values import MAX_VALUE_DEPTH, MAX_VALUE_ITEMS, PropertyShapeError, check_shape
from iokit_sdk.wirecodec import packb

from iokit_host.errors import Diagnostic, IOKitError, Severity
from iokit_host.explain import Explanation
from iokit_host.kernel.outcomes import CandidateOutcome
from iokit_host.kext.loaded import LoadedKext
from iokit_host.power.assertions import Assertion
from iokit_host.power.log import LogRead, PowerEvent
from iokit_host.registry import IORegistry
from iokit_host.server import snapshot, snapshot_pipeline

__all__ = ["KernelToolError", "apply_events", "await_transition", "fetch_assertions",
           "fetch_explanation", "fetch_loaded", "fetch_power_log", "fetch_registry",
           "kernel_port", "next_of", "request_power", "resume_of"]

T = TypeVar("T")


class KernelToolError(IOKitError):
    reference = "kernel-unreachable"


#: What to do about a kernel the tool could not talk to, by why.
_HINTS = {
    "kernel-unreachable": "start one with 'iokit kernel', or pass --kernel PATH / set "
                          "IOKIT_KERNEL to its socket",
    "kernel-refused": "a kernel runs there and refused this process (its log says why): "
                      "another user's kernel, or one at its client limit",
    "protocol-version-mismatch": "use the iokit-host the running kernel was started from",
    "kernel-timeout": "the kernel is busy or stuck (a driver call?): see its log (its stderr)",
    "kernel-gone": "the kernel stopped or closed the connection: see its log (its stderr)",
}


@contextmanager
def kernel_port(path: str, tool: str) -> Iterator[MainPort]:
    """A connection to the kernel at ``path`` for ``tool``; failures are IOKitErrors."""
    try:
        port = MainPort(path, client=tool)
    except KernelConnectionError as error:
        raise KernelToolError(str(error).split(": ", 1)[-1], file=path,
                              reference=error.reference, hint=_HINTS.get(
                                  error.reference, _HINTS["kernel-unreachable"])) from error
    try:
        yield port
    except IOReturnError as error:
        raise KernelToolError(f"the kernel answered {error}", file=path,
                              reference=getattr(error, "reference", "kernel-request-failed"),
                              hint="see the kernel's log (its stderr)") from error
    finally:
        port.close()


def _ask(path: str, tool: str, op: str, read: Callable[[dict[str, Any]], T],
         **fields: Any) -> T:
    with kernel_port(path, tool) as port:
        return _ask_on(port, path, op, read, **fields)


def _ask_on(port: MainPort, path: str, op: str, read: Callable[[dict[str, Any]], T],
            **fields: Any) -> T:
    """:func:`_ask` on a connection the caller holds."""
    return _read(path, op, read, _checked(port.request(op, **fields), op))


def _checked(reply: dict[str, Any], op: str) -> dict[str, Any]:
    """``reply`` to ``op``, unless it says the request failed (raised as what it says)."""
    error = reply.get("error")
    if isinstance(error, dict):
        raise IOKitError(str(error.get("message")), reference=str(error.get("reference")),
                         key=error.get("key"), hint=error.get("hint"), file=error.get("file"))
    if reply.get("ret", 0) != 0:
        raise IOReturnError(reply["ret"], str(reply.get("message") or op))
    return reply


def _read(path: str, op: str, read: Callable[[dict[str, Any]], T], reply: dict[str, Any]) -> T:
    """``read(reply)``; a reply it cannot read is ``kernel-reply-invalid``."""
    try:
        return read(reply)
    except (KeyError, TypeError, ValueError) as bad:
        raise KernelToolError(f"the kernel's {op} reply is not one this tool reads: {bad}",
                              file=path, reference="kernel-reply-invalid",
                              hint="use an iokit-host of the kernel's version") from bad


def fetch_registry(path: str) -> IORegistry:
    """The running kernel's registry, rebuilt for the ``ioreg`` renderers."""
    with kernel_port(path, "iokit ioreg") as port:
        def receive(request_id: int) -> dict[str, Any]:
            return _checked(port.receive(request_id), "tool.registry")
        asker = snapshot_pipeline.Asker(partial(port.send, "tool.registry"), receive)
        try:  # in parts, each rebuilt while the kernel takes the next: either may be unreadable
            return snapshot_pipeline.fetch_rebuilt(asker)
        except snapshot.SnapshotError as bad:
            raise KernelToolError(f"the kernel's tool.registry reply is not one this tool "
                                  f"reads: {bad}", file=path, reference="kernel-reply-invalid",
                                  hint="use an iokit-host of the kernel's version") from bad


def fetch_explanation(path: str, target: str) -> tuple[Explanation, list[Diagnostic]]:
    def read(reply: dict[str, Any]) -> tuple[Explanation, list[Diagnostic]]:
        data = reply["explanation"]
        candidates = tuple(CandidateOutcome(**c) for c in data["candidates"])
        return (Explanation(data["provider"], data["provider_class"], candidates,
                            tuple(data.get("ancestry", ()))),
                diagnostics_from(reply.get("diagnostics", ())))
    return _ask(path, "iokit explain", "tool.explain", read, target=target)


def fetch_loaded(path: str) -> tuple[list[LoadedKext], list[Diagnostic]]:
    def read(reply: dict[str, Any]) -> tuple[list[LoadedKext], list[Diagnostic]]:
        rows = [LoadedKext(**{**row, "linked_against": tuple(row["linked_against"])})
                for row in reply["rows"]]
        return rows, diagnostics_from(reply.get("diagnostics", ()))
    return _ask(path, "iokit kextstat", "tool.kextstat", read)


def apply_events(path: str, tables: list[Any], *, source: str
                 ) -> tuple[list[str], list[Diagnostic]]:
    """Apply a scenario's ``[[event]]`` tables to the running kernel, which checks each with
    the scenario reader; its lines and the diagnostics (damaged events included).

    A table the socket cannot carry (an integer past 64 bits under any key) is reported here
    as ``scenario-invalid`` and sent as an empty slot the kernel skips, so the others keep
    their ``event[N]`` numbers and still apply.
    """
    wired, sizes, unsendable = _wire_tables(tables, source)
    lines: list[str] = []
    diagnostics = list(unsendable)
    with kernel_port(path, "iokit event") as port:
        start = 0
        while start < len(wired):
            part_lines, part_diagnostics, resume = _apply_from(port, path, wired, sizes,
                                                               start, source)
            lines += part_lines
            diagnostics += part_diagnostics
            if resume is None:
                break
            lines.append(await_transition(
                lambda op: _ask_on(port, path, op, dict), path))
            start = resume
    return lines, diagnostics


def _apply_from(port: MainPort, path: str, wired: list[Any], sizes: dict[int, int],
                start: int, source: str) -> tuple[list[str], list[Diagnostic], int | None]:
    """Send the tables from ``start`` on, in parts the kernel takes in one request, each
    saying where it starts (so diagnostics number events as the file does), the rest of a
    part again when the kernel's time for one request ran out (``next``); until a system
    transition waits for programs' answers: then where the rest starts."""
    lines: list[str] = []
    diagnostics: list[Diagnostic] = []
    for first, part in _parts(wired[start:], {i - start: n for i, n in sizes.items()}):
        at, end = start + first, start + first + len(part)
        while True:
            part_lines, part_diagnostics, resume, rest = _ask_on(
                port, path, "tool.events", partial(_read_events, at=at, end=end,
                                                   count=len(wired)),
                events=part[at - start - first:], source=source, first=at)
            lines += part_lines
            diagnostics += part_diagnostics
            if resume is not None:
                return lines, diagnostics, resume
            if rest is None:
                break
            at = rest
    return lines, diagnostics, None


def _read_events(reply: dict[str, Any], *, at: int, end: int, count: int
                 ) -> tuple[list[str], list[Diagnostic], int | None, int | None]:
    """A ``tool.events`` reply to the tables from ``at`` to ``end`` (of ``count``)."""
    return ([str(line) for line in reply["lines"]], diagnostics_from(reply["diagnostics"]),
            resume_of(reply, at, count), next_of(reply, at, end))


def next_of(reply: dict[str, Any], start: int, end: int) -> int | None:
    """Where the events a ``tool.events`` reply (to those from ``start`` to ``end``) left
    unapplied start, when the kernel's time for one request ran out; the client sends them
    again at once.

    :raises ValueError: a ``next`` that is not an event after ``start`` and before ``end``.
    """
    rest = reply.get("next")
    if rest is not None and not (type(rest) is int and start < rest < end):
        raise ValueError(f"'next' {rest!r} is not an event after {start} and before {end}")
    return rest


def resume_of(reply: dict[str, Any], start: int, count: int) -> int | None:
    """Where the rest of a scenario starts after a ``tool.events`` reply to the events from
    ``start`` on (of ``count``), when a system transition there waits for answers.

    :raises ValueError: a ``resume`` that is not an event after ``start``.
    """
    resume = reply.get("resume")
    if resume is not None and not (type(resume) is int and start < resume <= count):
        raise ValueError(f"'resume' {resume!r} is not an event after {start}")
    return resume


#: How long ``iokit event`` waits for a sleep the programs have to answer: IOPMrootDomain
#: waits 30 s for their answers, and its drivers' acknowledgements may take as long again.
EVENT_WAIT_S = 120.0
#: How often it asks (the kernel's request model has no deferred replies).
_EVENT_POLL_S = 0.02


def await_transition(ask: Callable[[str], dict[str, Any]], path: str) -> str:
    """The line of the system transition the kernel left waiting, once it ran, asked for
    with ``ask`` (one request, its reply) until then.

    :raises KernelToolError: ``kernel-timeout`` past :data:`EVENT_WAIT_S`;
        ``kernel-reply-invalid`` for a reply whose ``line`` is missing or not text.
    """
    deadline = time.monotonic() + EVENT_WAIT_S
    while True:
        reply = ask("tool.event_wait")
        line = reply.get("line", _NO_LINE)
        if line is not None:
            break
        if time.monotonic() > deadline:
            raise KernelToolError(f"a system transition did not end within {EVENT_WAIT_S:g} s",
                                  file=path, reference="kernel-timeout",
                                  hint="see 'iokit pmset -g log --kernel' for what it waits for")
        time.sleep(_EVENT_POLL_S)
    if not isinstance(line, str):
        raise KernelToolError(f"the kernel's tool.event_wait reply is not one this tool reads: "
                              f"{reply!r:.200}", file=path, reference="kernel-reply-invalid",
                              hint="use an iokit-host of the kernel's version")
    return line


_NO_LINE = object()


#: The most event tables, and bytes of them, the kernel takes in one ``tool.events``
#: request (its frame limit, less room for the rest of the request); the kernel's
#: ``tool.events`` refuses more tables with the same figure.
EVENTS_PER_REQUEST = 10_000
_PART_BYTES = MAX_REQUEST_FRAME - (64 << 10)


def _parts(wired: list[Any], sizes: dict[int, int]) -> Iterator[tuple[int, list[Any]]]:
    """``(position of its first table, tables)`` of each request's share of ``wired``, whose
    tables encode in ``sizes[position]`` bytes (an empty slot, ``None``, in one)."""
    first, size = 0, 0
    part: list[Any] = []
    for index, table in enumerate(wired):
        cost = sizes.get(index, 1)
        if part and (len(part) == EVENTS_PER_REQUEST or size + cost > _PART_BYTES):
            yield first, part
            first, part, size = index, [], 0
        part.append(table)
        size += cost
    yield first, part


def _wire_tables(tables: list[Any], source: str
                 ) -> tuple[list[Any], dict[int, int], list[Diagnostic]]:
    """Tables as msgpack carries them, and the bytes each encodes in. A table nested too deep
    or too large, holding an integer msgpack cannot carry, or a TOML date or time (which no
    event takes: refused as ``iokit boot --events`` refuses it, in the same words) becomes
    ``None`` and a diagnostic. Each is shape-checked before it is walked."""
    from iokit_host.scenario import ScenarioError
    from iokit_host.scenario.datetimes import refuse_datetimes

    def plain(value: Any, key: str) -> Any:
        if isinstance(value, dict):
            return {str(k): plain(v, f"{key}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v, f"{key}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, int) and not _WIRE_MIN <= value <= _WIRE_MAX:
            raise _Unsendable(key, value)
        return value
    wired: list[Any] = []
    sizes: dict[int, int] = {}  # bytes of each table sent (an empty slot's is one)
    unsendable: list[Diagnostic] = []
    for index, table in enumerate(tables):
        try:
            # Each table on its own: one nested too deep or too large is not sent, the
            # others still apply (the kernel reads only bounded values).
            check_shape(table, f"event[{index}]")
        except PropertyShapeError as error:
            wired.append(None)
            unsendable.append(Diagnostic(
                "scenario-invalid", f"{error}; this event was not sent", file=source,
                key=f"event[{index}]", hint="event values nest at most "
                f"{MAX_VALUE_DEPTH} arrays or tables deep and hold at most "
                f"{MAX_VALUE_ITEMS} items"))
            continue
        try:
            refuse_datetimes(table, f"event[{index}]", source)
        except ScenarioError as error:
            wired.append(None)
            unsendable.append(error.diagnostic)
            continue
        try:
            wired.append(plain(table, f"event[{index}]"))
            size = len(packb(wired[-1]))
            if size <= _PART_BYTES:
                sizes[index] = size
            else:
                wired[-1] = None
                unsendable.append(Diagnostic(
                    "scenario-invalid", f"the event is larger than the {_PART_BYTES >> 20} MiB "
                    "a request to the kernel carries; this event was not sent", file=source,
                    key=f"event[{index}]", hint="keep each event's values small (a property "
                    "of megabytes is no nub's)"))
        except _Unsendable as bad:
            wired.append(None)
            unsendable.append(Diagnostic(
                "scenario-invalid", f"{bad.value} does not fit in 64 bits; this "
                "event was not sent", file=source, key=bad.key,
                hint="numbers in a scenario fit in 64 bits, as an OSNumber does"))
    return wired, sizes, unsendable


#: msgpack's integers: signed 64-bit below zero, unsigned 64-bit above.
_WIRE_MIN, _WIRE_MAX = -(1 << 63), (1 << 64) - 1


class _Unsendable(Exception):
    def __init__(self, key: str, value: int) -> None:
        super().__init__(key)
        self.key, self.value = key, value


def fetch_power_log(path: str) -> LogRead:
    """The running kernel's sleep/wake log (``pmset -g log``), with what it dropped."""
    def read(reply: dict[str, Any]) -> LogRead:
        log = reply["log"]
        events = tuple(PowerEvent(**{_LOG_FIELDS.get(k, k): v for k, v in event.items()})
                       for event in log["events"])
        dropped, sleeps = log.get("dropped", 0), log.get("dropped_sleeps", 0)
        if type(dropped) is not int or type(sleeps) is not int:
            raise ValueError(f"'dropped' {dropped!r:.40} and 'dropped_sleeps' {sleeps!r:.40} "
                             "are not counts")
        return LogRead(events, dropped, sleeps)
    return _ask(path, "iokit pmset", "tool.pmset_log", read)


_LOG_FIELDS = {"class": "class_name", "from": "from_state", "to": "to_state"}


def fetch_assertions(path: str) -> tuple[tuple[Assertion, ...], dict[str, int], list[str], int]:
    """What ``pmset -g assertions`` prints: the assertions, the system-wide status, the idle
    sleep preventers and the kernel's clock."""
    def read(reply: dict[str, Any]) -> tuple[tuple[Assertion, ...], dict[str, int], list[str],
                                             int]:
        return (tuple(Assertion(**a) for a in reply["assertions"]),
                {str(k): int(v) for k, v in reply["system_wide"].items()},
                [str(name) for name in reply["idle_sleep_preventers"]], int(reply["now_ns"]))

    def page(reply: dict[str, Any]) -> dict[str, Any]:  # what all_assertions reads of it
        if not isinstance(reply["assertions"], list) or \
                not all(isinstance(a, dict) and "assertion_id" in a for a in reply["assertions"]):
            raise ValueError("'assertions' is not a list of records")
        return reply
    with kernel_port(path, "iokit pmset") as port:
        whole = all_assertions(lambda op, **fields: _ask_on(port, path, op, page, **fields))
    return _read(path, "pm_assertions", read, whole)


def request_power(path: str, kind: str) -> str | None:
    """Start a system ``sleep``, ``idle`` sleep or ``wake``; its result, None while pending."""
    def read(reply: dict[str, Any]) -> str | None:
        result = reply["result"]
        return None if result is None else str(result)
    return _ask(path, "iokit pmset", "tool.power", read, kind=kind)


def diagnostics_from(items: Sequence[dict[str, Any]]) -> list[Diagnostic]:
    return [Diagnostic(str(d["reference"]), str(d["message"]), file=d.get("file"),
                       key=d.get("key"), hint=d.get("hint"), subject=d.get("subject"),
                       severity=Severity(d.get("severity", "error"))) for d in items]
