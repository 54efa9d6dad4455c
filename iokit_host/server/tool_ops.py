"""Tool requests: what ``iokit ioreg``, ``explain``, ``kextstat`` and ``event`` ask of a running
kernel (IOKitTools read the live registry through IOKitLib; these read it as a whole).

Values travel as plain fields of the host's own records (explanations, loaded-kext rows,
diagnostics), so the tool renders them with the same code as when it boots its own host.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from iokit_sdk.returns import IOReturn

from iokit_host.errors import IOKitError
from iokit_host.machine.model import NubSpec
from iokit_host.machine.values import decode_value
from iokit_host.scenario import MAX_AT_NS, Event
from iokit_host.server import snapshot
from iokit_host.server.args import Args, BadRequest
from iokit_host.server.context import KernelContext
from iokit_host.server.session import Session

__all__ = ["OPS", "encode_event"]

Op = Callable[[KernelContext, Session, Args], dict[str, Any]]
_ACTIONS = ("plug", "unplug", "publish")
_MAX_EVENTS = 10_000


def registry(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    return {"snapshot": snapshot.take(ctx.host.registry)}


def explain(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    target = args.text("target")
    assert target is not None
    try:
        explanation = ctx.host.explain(target)
    except IOKitError as error:
        return {"ret": IOReturn.NOT_FOUND, "error": error.diagnostic.to_json()}
    return {"explanation": dataclasses.asdict(explanation),
            "diagnostics": [d.to_json() for d in ctx.host.diagnostics]}


def kextstat(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    return {"rows": [dataclasses.asdict(row) for row in ctx.host.loaded_kexts()],
            "diagnostics": [d.to_json() for d in ctx.host.diagnostics]}


def status(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    host = ctx.host
    return {"summary": str(host.summary()),
            "machine": host.machine.name if host.machine is not None else None,
            "connections": len(ctx.user_clients)}


def events(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """Apply scenario events (plug, unplug, publish) in order, as ``iokit boot --events``."""
    from iokit_host.scenario import apply_events

    raw = args.message.get("events")
    if not isinstance(raw, list) or len(raw) > _MAX_EVENTS:
        raise BadRequest(f"'events' must be an array of at most {_MAX_EVENTS} events")
    decoded = [_event(item, f"event[{index}]") for index, item in enumerate(raw)]
    host = ctx.host
    before = len(host.diagnostics)
    lines = apply_events(host, decoded)
    return {"lines": lines, "diagnostics": [d.to_json() for d in host.diagnostics[before:]]}


def encode_event(event: Event) -> dict[str, Any]:
    """An event as the ``events`` request carries it (nub values in the scenario encoding)."""
    from iokit_host.machine.values import encode_value

    fields: dict[str, Any] = {"action": event.action, "target": event.target,
                              "resource": event.resource, "at_ns": event.at_ns}
    if event.nub is not None:
        nub = event.nub
        fields["nub"] = {"class": nub.class_name, "name": nub.name, "location": nub.location,
                         "properties": {k: encode_value(v, key=k)
                                        for k, v in nub.properties.items()}}
    return fields


def _event(item: object, where: str) -> Event:
    if not isinstance(item, Mapping) or item.get("action") not in _ACTIONS:
        raise BadRequest(f"{where}: an event is a map whose action is one of "
                         f"{', '.join(_ACTIONS)}")
    at_ns = item.get("at_ns")
    if at_ns is not None and (isinstance(at_ns, bool) or not isinstance(at_ns, int)
                              or not 0 <= at_ns <= MAX_AT_NS):
        raise BadRequest(f"{where}.at_ns must be nanoseconds from 0 to 2**64-1")
    target, resource = item.get("target"), item.get("resource")
    for key, value in (("target", target), ("resource", resource)):
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"{where}.{key} must be a string")
    action = item["action"]
    needed = {"plug": target, "unplug": target, "publish": resource}[action]
    if not needed:
        key = "resource" if action == "publish" else "target"
        raise BadRequest(f"{where}: a {action} event needs a non-empty {key}")
    nub = _nub(item.get("nub"), where) if action == "plug" else None
    return Event(action, target, nub, resource, at_ns)


def _nub(raw: object, where: str) -> NubSpec:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("class"), str):
        raise BadRequest(f"{where}.nub must be a map with a 'class' string")
    name, location, props = raw.get("name"), raw.get("location"), raw.get("properties") or {}
    if not all(v is None or isinstance(v, str) for v in (name, location)):
        raise BadRequest(f"{where}.nub name and location are strings")
    if not isinstance(props, Mapping):
        raise BadRequest(f"{where}.nub.properties must be a map")
    try:
        values = {str(k): decode_value(v, node=f"{where}.nub", key=str(k))
                  for k, v in props.items()}
    except IOKitError as error:
        raise BadRequest(f"{where}.nub.properties: {error.diagnostic.message}") from error
    return NubSpec(raw["class"], name=name, location=location, properties=values)


OPS: dict[str, Op] = {"tool.registry": registry, "tool.explain": explain,
                      "tool.kextstat": kextstat, "tool.status": status, "tool.events": events}
