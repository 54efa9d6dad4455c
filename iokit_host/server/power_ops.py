"""Power requests: what powerd serves on a Mac (``IOPMAssertionCreateWithName``,
``IOPMAssertionRelease``, ``IOPMCopyAssertionsByProcess``) and what ``pmset -g`` reads.

Assertions are powerd's, not the kernel's; here the kernel keeps them for the programs that
create them. Each belongs to the session that made it (a :class:`HeldAssertion` in its handle
table), so a program that exits or dies has them released, as powerd releases a dead
process's assertions. Sleep, wake and the answers to system messages go through the root
domain's user client (:mod:`iokit_host.userclient.rootdomain`), as in IOKit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iokit_sdk.returns import IOReturn

from iokit_host.power.assertions import AssertionError_
from iokit_host.server.args import Args, BadRequest
from iokit_host.server.context import KernelContext
from iokit_host.server.session import Session

__all__ = ["ASSERTIONS_PER_REPLY", "OPS", "HeldAssertion", "release_held"]

Op = Callable[[KernelContext, Session, Args], dict[str, Any]]
_MAX_NAME = 1024
#: The most assertions one ``pm_assertions`` reply lists (a few milliseconds of the loop's
#: time); a client asks again from the last one for the rest.
ASSERTIONS_PER_REPLY = 4096


@dataclass(frozen=True, eq=False)
class HeldAssertion:
    """An assertion a session created (its right to release it)."""

    assertion_id: int


def create(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    kind, name = args.text("type"), args.text("name")
    assert kind is not None and name is not None
    if len(name) > _MAX_NAME:
        raise BadRequest(f"'name' is over {_MAX_NAME} characters")
    try:
        assertion = ctx.host.power.create_assertion(
            kind, name, level=args.number("level", high=255), owner=session.peer.name,
            pid=session.peer.pid)
    except AssertionError_ as error:
        raise BadRequest(error.diagnostic.message) from error
    handle = session.handles.add(HeldAssertion(assertion.assertion_id))
    if handle is None:
        ctx.host.power.release_assertion(assertion.assertion_id)
        raise BadRequest(session.handles.full(), IOReturn.NO_RESOURCES)
    session.assertions[assertion.assertion_id] = handle
    return {"assertion_id": assertion.assertion_id}


def release(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    wanted = args.number("assertion_id")
    # Found by id, not by walking the client's handles: a client holding tens of thousands
    # must not make each release cost the kernel's loop (and everyone else) milliseconds.
    handle = session.assertions.pop(wanted, None)
    held = session.handles.get(handle, HeldAssertion)
    if handle is None or held is None:
        return {"ret": IOReturn.NOT_FOUND,
                "message": f"this client holds no assertion {wanted}"}
    session.handles.forget(handle)
    release_held(ctx, held)
    return {}


def release_held(ctx: KernelContext, held: HeldAssertion) -> None:
    ctx.host.power.release_assertion(held.assertion_id)


def assertions(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """Everything ``pmset -g assertions`` shows (and ``IOPMCopyAssertionsByProcess``), the
    assertions a page at a time: at most ``limit`` (:data:`ASSERTIONS_PER_REPLY`) created
    after the assertion ``after`` (0: from the first), and ``more`` when others follow. One
    request listing a quarter million held every other client's requests back 1.7 s."""
    power = ctx.host.power
    after = args.number("after") if "after" in args.message else 0
    limit = args.number("limit", high=ASSERTIONS_PER_REPLY) if "limit" in args.message \
        else ASSERTIONS_PER_REPLY
    page, more = power.assertions.page(after, limit)
    return {"now_ns": ctx.host.clock.now_ns(),
            "assertions": [{"assertion_id": a.assertion_id, "type": a.type, "name": a.name,
                            "level": a.level, "owner": a.owner, "pid": a.pid,
                            "created_ns": a.created_ns} for a in page],
            "more": more, "system_wide": power.assertions.system_wide(),
            "idle_sleep_preventers": [s.get_name() for s in _idle_preventers(ctx)]}


def _idle_preventers(ctx: KernelContext) -> list[Any]:
    preventers = getattr(ctx.host.power, "idle_sleep_preventers", None)
    return list(preventers()) if callable(preventers) else []


def log(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """The sleep/wake log (``pmset -g log``)."""
    return {"log": ctx.host.power.log.to_json(), "asleep": ctx.host.power.asleep}


def transition(ctx: KernelContext, session: Session, args: Args) -> dict[str, Any]:
    """Start a system transition (``sleep``, ``idle`` or ``wake``; what the lid, the idle
    timer or a key press would), run as far as it goes; programs that were asked answer
    later. Replies with its result, or None while it waits for answers."""
    kind = args.text("kind")
    if kind not in _KINDS:
        raise BadRequest(f"'kind' must be one of {', '.join(_KINDS)}")
    reason = args.text("reason", optional=True) or _KINDS[kind]
    return {"result": ctx.host.power.request_transition(kind, reason).result}


_KINDS = {"sleep": "Software Sleep", "idle": "Idle Sleep", "wake": "User Activity"}

OPS: dict[str, Op] = {"pm_assertion_create": create, "pm_assertion_release": release,
                      "pm_assertions": assertions, "tool.pmset_log": log,
                      "tool.power": transition}
