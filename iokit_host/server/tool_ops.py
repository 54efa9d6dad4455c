"""Tool requests: what ``iokit ioreg``, ``explain``, ``kextstat`` and ``event`` ask of a running
kernel (IOKitTools read the live registry through IOKitLib; these read it as a whole).

Values travel as plain fields of the host's own records (explanations, loaded-kext rows,
diagnostics), so the tool renders them with the same code as when it boots its own host.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from iokit_sdk import IOService
from iokit_sdk.returns import IOReturn

from iokit_host.errors import Diagnostic, IOKitError
from iokit_host.host import NoSuchServiceError
from iokit_host.server import snapshot
from iokit_host.server.args import Args, BadRequest
from iokit_host.server.client import EVENTS_PER_REQUEST
from iokit_host.server.context import KernelContext
from iokit_host.server.session import Session

__all__ = ["OPS"]

Op = Callable[[KernelContext, Session, Args], dict[str, Any]]


def registry(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """A part of the registry's snapshot (:func:`.snapshot.take_part`): the first without
    ``generation``, else the one after the entry ``after``."""
    if "generation" in args.message:
        generation: int | None = args.number("generation")
        after: int | None = args.number("after")
    else:
        generation = after = None
    try:
        reply, session.registry_walk = snapshot.take_part(
            ctx.host.registry, session.registry_walk, after, generation)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    return reply


def explain(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    try:
        explanation = ctx.host.explain(_explained(ctx, args))
    except IOKitError as error:
        return {"ret": IOReturn.NOT_FOUND, "error": error.diagnostic.to_json()}
    return {"explanation": dataclasses.asdict(explanation),
            "diagnostics": [d.to_json() for d in ctx.host.diagnostics]}


def _explained(ctx: KernelContext, args: Args) -> str | IOService:
    """The service ``entry`` (a registry entry id, as IORegistryExplorer names an entry: a
    name holding a ``/`` has no path that finds it) else the path or name ``target``."""
    if args.message.get("entry") is None:
        target = args.text("target")
        assert target is not None
        return target
    entry_id = args.number("entry")
    found = ctx.host.registry.entry_for_id(entry_id)
    if not isinstance(found, IOService):
        raise NoSuchServiceError(f"no service with registry entry id {entry_id:#x}",
                                 key="entry", hint="it may have left the registry")
    return found


def kextstat(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    return {"rows": [dataclasses.asdict(row) for row in ctx.host.loaded_kexts()],
            "diagnostics": [d.to_json() for d in ctx.host.diagnostics]}


def status(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    host = ctx.host
    return {"summary": str(host.summary()),
            "machine": host.machine.name if host.machine is not None else None,
            "connections": len(ctx.user_clients)}


def events(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """Apply a scenario's ``[[event]]`` tables in order, as ``iokit boot --events``: each is
    checked by the scenario reader itself, so every action a file may hold applies here too,
    and a damaged one is reported and skipped. A system transition that waits for programs'
    answers ends the request (:mod:`.live_events`): ``resume`` is where the rest starts, once
    ``tool.event_wait`` gives its line. So does the end of :data:`EVENTS_SLICE_S`: ``next``
    is where the rest starts, sent again at once."""
    from iokit_host.scenario import events_from_tables
    from iokit_host.server.live_events import apply_live

    raw = args.message.get("events")
    if not isinstance(raw, list) or len(raw) > EVENTS_PER_REQUEST:
        raise BadRequest(f"'events' must be an array of at most {EVENTS_PER_REQUEST} event tables")
    source = args.message.get("source")
    # A long scenario comes in parts: where this one starts in the file.
    first = args.number("first", high=(1 << 31) - 1) if "first" in args.message else 0
    file = source if isinstance(source, str) else "<client>"
    damaged: list[tuple[int, Diagnostic]] = []  # (file position, diagnostic)
    host = ctx.host
    before = len(host.diagnostics)
    lines: list[str] = []
    waiting = None
    end = first + len(raw)  # where the events this request leaves to the next start
    until = time.monotonic() + EVENTS_SLICE_S
    for position, table in enumerate(raw, start=first):  # one at a time: the damage's place
        if position > first and time.monotonic() >= until:
            end = position  # its time is up: the client sends the rest at once
            break

        def report(found: Diagnostic, at: int = position) -> None:
            damaged.append((at, found))
        applied, waiting = apply_live(host, events_from_tables(
            [table], file=file, first=position, report=report))
        lines += applied
        if waiting is not None:
            end = waiting.resume
            break
    session.scenario_wait = waiting
    reply: dict[str, Any] = {
        "lines": lines,
        "diagnostics": [d.to_json() for d in [*(d for _, d in damaged),
                                               *host.diagnostics[before:]]]}
    if waiting is not None:
        reply["resume"] = waiting.resume
    elif end < first + len(raw):
        reply["next"] = end
    return reply


#: Wall time one ``tool.events`` request applies events for; the rest is left to the
#: client's next request (``next``), so others are served between: 10,000 ``plug`` events
#: in one request held every other client back 7.7 s.
EVENTS_SLICE_S = 0.05


def event_wait(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """The line of the system transition this connection's last ``tool.events`` left
    waiting for programs' answers; None while it still waits."""
    waiting = session.scenario_wait
    if waiting is None:
        raise BadRequest("no scenario event of this connection waits")
    line = waiting.line()
    if line is not None:
        session.scenario_wait = None
    return {"line": line}


OPS: dict[str, Op] = {"tool.registry": registry, "tool.explain": explain,
                      "tool.kextstat": kextstat, "tool.status": status, "tool.events": events,
                      "tool.event_wait": event_wait}
