"""The explorer's HTTP application: the page, its JSON API and the live event stream.

IORegistryExplorer's window has a plane chooser, an outline of the plane, a search field and
the selected entry's properties. The page (``static/``: plain HTML, CSS and JavaScript modules,
no build step) asks this API for each of them:

- ``GET /api/meta``: machine, planes, whether events are allowed;
- ``GET /api/planes/{plane}``: the plane's tree; ``GET /api/entries/{id}``: one entry;
- ``GET /api/search?q=TEXT&field=any|name|class|property``;
- ``GET /api/match/{id}``: the matching picture; ``GET /api/power``: the power timeline;
- ``GET /api/live``: server-sent events, one ``changes`` message per registry change;
- ``POST /api/events``: apply scenario events (``{"events": [{"action": "unplug", ...}]}``),
  refused (403) unless the explorer was started with ``--allow-events``.

Every refusal is a JSON diagnostic (:mod:`.errors`); every endpoint runs off the event loop
(Starlette's thread pool) and reads the kernel only through the bridge.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import sys
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from iokit_host.errors import Diagnostic
from iokit_host.explorer.bridge import BridgeError
from iokit_host.explorer.errors import ApiError, error_response
from iokit_host.explorer.guard import Guard
from iokit_host.explorer.live import LiveRegistry
from iokit_host.explorer.matching import picture
from iokit_host.explorer.timeline import timeline
from iokit_host.explorer.view import MAX_QUERY
from iokit_host.ioreg.node import service_facts

__all__ = ["MAX_BODY", "MAX_EVENTS", "STATIC", "ExplorerState", "make_app"]

STATIC = Path(__file__).parent / "static"
#: The largest events body accepted (a scenario of a few hundred events).
MAX_BODY = 1 << 20
MAX_EVENTS = 1000
_ID = re.compile(r"[0-9]{1,19}")
_KEEPALIVE_S = 15.0
_TURN_S = 0.5


@dataclass
class ExplorerState:
    """What the endpoints share: the live registry, the policy, and a stop flag."""

    live: LiveRegistry
    allow_events: bool = False
    closing: threading.Event = field(default_factory=threading.Event)


def _endpoint(handler: Callable[[Request, ExplorerState], Any]
              ) -> Callable[[Request], Any]:
    """A sync handler as an endpoint: its dict is the JSON answer, an :class:`ApiError` or a
    :class:`BridgeError` a diagnostic, and a bug one line on stderr and a 500."""
    @functools.wraps(handler)
    def endpoint(request: Request) -> Response:
        state: ExplorerState = request.app.state.explorer
        try:
            return JSONResponse(handler(request, state))
        except ApiError as error:
            return error_response(error.status, error.diagnostic)
        except BridgeError as error:
            return error_response(503 if error.ref.startswith("kernel-") else 404,
                                  error.diagnostic)
        except Exception as bug:  # noqa: BLE001 - never a traceback to the browser
            print(f"iokit explorer: error[explorer-internal-error]: {request.url.path}: "
                  f"{type(bug).__name__}: {bug}", file=sys.stderr, flush=True)
            return error_response(500, Diagnostic(
                "explorer-internal-error", f"the explorer failed: {type(bug).__name__}",
                hint="see the explorer's log (stderr)"))
    return endpoint


def _entry_id(request: Request) -> int:
    raw = str(request.path_params["entry_id"])
    if not _ID.fullmatch(raw):
        raise ApiError(400, "explorer-bad-id", f"not a registry entry id: {raw[:40]!r}",
                       hint="entry ids are decimal numbers, as /api/planes gives them")
    return int(raw)


def meta(request: Request, state: ExplorerState) -> dict[str, Any]:
    view = state.live.view()
    status = state.live.bridge.status()
    return {"machine": status.get("machine"), "summary": status.get("summary"),
            "planes": list(view.planes), "allow_events": state.allow_events,
            "generation": view.generation, "kernel": state.live.bridge.path,
            "entries": len(view.records)}


def plane(request: Request, state: ExplorerState) -> dict[str, Any]:
    name = str(request.path_params["plane"])
    view = state.live.view()
    if name not in view.planes:
        raise ApiError(404, "explorer-no-such-plane", f"no plane named {name[:80]!r}",
                       hint=f"planes: {', '.join(view.planes)}")
    return {**view.plane_tree(name), "generation": view.generation}


def entry(request: Request, state: ExplorerState) -> dict[str, Any]:
    entry_id = _entry_id(request)
    view = state.live.view()
    found = view.entry(entry_id)
    if found is None:
        raise ApiError(404, "explorer-no-such-entry", f"no registry entry with id {entry_id}",
                       hint="it may have left the registry (terminated, unplugged)")
    return {**view.details(found), "generation": view.generation}


def search(request: Request, state: ExplorerState) -> dict[str, Any]:
    for name in ("q", "field"):
        # Given twice, the last one was searched for, silently: which one a link or a script
        # meant cannot be told, so it is asked to say.
        given = len(request.query_params.getlist(name))
        if given > 1:
            raise ApiError(400, "explorer-bad-search", f"{name} is given {given} times",
                           key=name, hint=f"give {name} once")
    query = request.query_params.get("q", "")
    where = request.query_params.get("field", "any")
    if len(query) > MAX_QUERY:
        raise ApiError(400, "explorer-query-too-long",
                       f"a search is at most {MAX_QUERY} characters, not {len(query)}",
                       key="q")
    view = state.live.view()
    try:
        hits, total = view.search(query, where)
    except ValueError as error:
        raise ApiError(400, "explorer-bad-search", str(error), key="q") from error
    return {"query": query, "field": where, "total": total,
            "hits": [hit.to_json() for hit in hits], "generation": view.generation}


def match(request: Request, state: ExplorerState) -> dict[str, Any]:
    entry_id = _entry_id(request)
    view = state.live.view()
    nub = view.entry(entry_id)
    if nub is None:
        raise ApiError(404, "explorer-no-such-entry", f"no registry entry with id {entry_id}")
    path = view.service_path(nub) if service_facts(nub) is not None else None
    if path is None:
        raise ApiError(422, "explorer-not-a-nub",
                       f"{nub.get_name()} is not a service in the IOService plane",
                       hint="only services are matched; pick one in the IOService plane")
    return picture(nub, state.live.bridge.explain(entry_id))


def power(request: Request, state: ExplorerState) -> dict[str, Any]:
    return timeline(state.live.bridge.power_log())


async def apply_events(request: Request) -> Response:
    state: ExplorerState = request.app.state.explorer
    if not state.allow_events:
        return error_response(403, Diagnostic(
            "explorer-read-only", "this explorer is read-only: it applies no events",
            hint="start it with --allow-events to plug, unplug, sleep and wake from the page"))
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return error_response(415, Diagnostic("explorer-bad-body",
                                              "events are sent as application/json"))
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return error_response(413, Diagnostic(
                "explorer-body-too-large", f"an events body is at most {MAX_BODY} bytes"))
    try:
        tables = _events_from(bytes(body))
    except ApiError as error:
        return error_response(error.status, error.diagnostic)
    handler = _endpoint(lambda req, st: _apply(st, tables))
    return await asyncio.to_thread(handler, request)


def _events_from(body: bytes) -> list[Any]:
    from iokit_sdk.iokitlib.wire import pack
    from iokit_sdk.values import PropertyShapeError, check_shape

    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise ApiError(400, "explorer-bad-body", f"the body is not JSON: {error}") from error
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ApiError(400, "explorer-bad-body",
                       "the body must be {\"events\": [{\"action\": ...}, ...]}", key="events")
    if len(events) > MAX_EVENTS:
        raise ApiError(400, "explorer-bad-body", f"at most {MAX_EVENTS} events at once",
                       key="events")
    try:
        check_shape(events, "events")
        pack({"events": events})  # what the kernel socket cannot carry is the body's fault
    except PropertyShapeError as error:
        raise ApiError(400, "explorer-bad-body", str(error), key="events") from error
    except (OverflowError, TypeError, ValueError) as error:
        raise ApiError(400, "explorer-bad-body", f"a value cannot be sent to the kernel "
                       f"({error}): integers are at most 64 bits", key="events") from error
    return events


def _apply(state: ExplorerState, tables: list[Any]) -> dict[str, Any]:
    result = state.live.bridge.apply(tables, source="<explorer>")
    state.live.refresh_now()
    return result


async def live(request: Request) -> Response:
    state: ExplorerState = request.app.state.explorer
    return StreamingResponse(_stream(state), media_type="text/event-stream",
                             headers={"x-accel-buffering": "no"})


async def _stream(state: ExplorerState) -> AsyncIterator[str]:
    # From the first view on: a change made before it (a program opening a user client while
    # the watcher took its first snapshot) is in that view, never a change, and a stream
    # subscribed earlier waited for its event for ever (seen under tox, Python 3.12).
    await asyncio.to_thread(state.live.first_view)
    queue = state.live.subscribe()
    try:
        yield "retry: 2000\n\n"
        # Told once when the kernel went away: a stream begun after that (a page opened, an
        # EventSource reconnecting) heard nothing, and the page said "live" over a dead kernel.
        # Subscribed first, so a return after this check still comes as a message.
        gone = state.live.gone
        if gone is not None:
            yield _event({"kind": "gone", "message": gone})
        idle = 0.0
        while not state.closing.is_set():
            try:
                message = await asyncio.wait_for(queue.get(), _TURN_S)
            except TimeoutError:
                idle += _TURN_S
                if idle >= _KEEPALIVE_S:
                    idle = 0.0
                    yield ": keepalive\n\n"
                continue
            idle = 0.0
            yield _event(message)
    finally:
        state.live.unsubscribe(queue)


def _event(message: dict[str, Any]) -> str:
    return f"event: {message['kind']}\ndata: {json.dumps(message)}\n\n"


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html")


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    reference = {404: "explorer-not-found", 405: "explorer-method-not-allowed"}.get(
        status, "explorer-bad-request")
    return error_response(status, Diagnostic(reference, f"{request.method} "
                                             f"{request.url.path[:200]}: "
                                             f"{getattr(exc, 'detail', 'refused')}",
                                             hint="the API is described in docs/explorer.md"))


def make_app(state: ExplorerState, hosts: tuple[str, ...] = (), *,
             any_ip: bool = False) -> Guard:
    """The explorer as an ASGI application behind its :class:`~.guard.Guard` (``hosts`` and
    ``any_ip``: the hosts it answers for besides the local ones)."""
    routes = [
        Route("/", index),
        Route("/api/meta", _endpoint(meta)),
        Route("/api/planes/{plane:path}", _endpoint(plane)),  # a plane name may hold a /
        Route("/api/entries/{entry_id}", _endpoint(entry)),
        Route("/api/search", _endpoint(search)),
        Route("/api/match/{entry_id}", _endpoint(match)),
        Route("/api/power", _endpoint(power)),
        Route("/api/live", live),
        Route("/api/events", apply_events, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _not_found})
    app.state.explorer = state
    return Guard(app, hosts, any_ip=any_ip)
