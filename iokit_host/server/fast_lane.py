"""The front end's one-request round: one client's one message, read, served and answered
in one pass (``ipc_kmsg`` delivered straight to a waiting receiver, no queueing).

Most rounds of the front end's loop serve exactly one thing: a client that waits for its
reply sent one request (``IOConnectCallMethod`` in a loop) and nothing else is ready. The
usual round reads every ready socket into its session's inbox, serves the inboxes, prints the
log and then settles every session (writes, watch updates); for this one case that machinery
costs more than the request. :func:`one_request` serves such a round directly: it reads the
socket once, and when the read is exactly one whole frame and the session is at rest (said
hello, nothing queued, nothing pending either way), hands it to
:func:`~.requests.handle` as the usual round would, prints the log and writes the reply at
once; a call frame (:mod:`iokit_sdk.iokitlib.callframe`) is served so too, and answered with
one. Whenever anything else happens (a partial or several frames, a hang-up, a request that
queued a notification for some client, a reply the socket does not take whole) it leaves the
rest of the round to the usual path, having done exactly what the usual read does, so the
order of everything the kernel does is the same either way.

A client that waits for each reply sends its next request as soon as it has one; when
client and kernel share a core, that happens while the kernel is still returning from the
send that woke it. The front end then reads the next request at once, without waiting for
readiness first (:data:`NOTHING` when there was none yet), as the usual round serves a few of
one session's requests in a row.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import msgpack
from iokit_sdk.iokitlib.callframe import CALL, MARK, REQUEST, SCALARS, pack_reply
from iokit_sdk.iokitlib.wire import FrameError
from iokit_sdk.service import IOService
from iokit_sdk.wirecodec import HEADER

from iokit_host.server.requests import answer, failed, handle
from iokit_host.server.session import Outbox, Session
from iokit_host.server.userclient_ops import plain_fields, plain_run
from iokit_host.userclient.connections import Connection

if TYPE_CHECKING:
    from iokit_host.server.context import KernelContext
    from iokit_host.server.frontend import FrontEnd

__all__ = ["NOTHING", "one_request"]

_HEADER_SIZE = HEADER.size
_unpack_header = HEADER.unpack_from
_pack_header = HEADER.pack
_unpackb = msgpack.unpackb
_KIND = _HEADER_SIZE + 1
_REQUEST_END = REQUEST.size
_unpack_request = REQUEST.unpack_from
#: What :func:`_call` gives when the reply went to the session's outbox.
_QUEUED = b""
#: What :func:`one_request` gives when the socket held nothing to read.
NOTHING = None


def one_request(front: FrontEnd, session: Session, at_rest: bool = False) -> bool | None:
    """Serve the round in which only ``session``'s socket is ready, for reading, and no
    timer is due. True when the round is complete; False when the session was read as
    :meth:`FrontEnd._read` reads it, and the usual round must go on; :data:`NOTHING` when
    there was nothing to read. ``at_rest``: the last round was this session's and complete
    (True), and nothing ran since, so the session is known to be at rest without looking."""
    if not at_rest and (not session.ready or session.inbox or session.closing is not None
                        or session.reader.unread or session.outbox.has_data()):
        front._read(session, 0)
        return False
    received = front._received
    try:
        count = session.sock.recv_into(received)
    except (BlockingIOError, InterruptedError):
        return NOTHING
    except OSError:
        front._end(session)
        return False
    if not (_HEADER_SIZE < count < len(received)
            and _unpack_header(received)[0] == count - _HEADER_SIZE):
        _to_inbox(front, session, count)
        return False
    queued = Outbox.queued
    if received[_HEADER_SIZE] == MARK:  # a call frame; another call it stands for is served
        frame = _framed_call(front, session, count)  # as its map is
        message = _decoded(session, received[_HEADER_SIZE:count]) if frame is None else None
    else:
        message = _decoded(session, received[_HEADER_SIZE:count])
        request_id = message.get("id") if message is not None else None
        frame = (_call(front, session, message, request_id)
                 if message is not None and message.get("op") == "call"
                 and type(request_id) is int and "release_first" not in message else None)
    if frame is None:
        if message is None:  # a bad frame: the session was told, and closes
            return False
        handle(front.ctx, session, message)
        frame = _QUEUED
    if Outbox.queued != queued + (not frame) or session.closing is not None:
        if frame:  # it queued something besides its reply: every session is settled
            session.outbox.reply(frame)
        return False
    if len(front.ctx.host.diagnostics) != front._logged:
        front.print_log()  # before the reply: a client that was answered sees it
    try:
        if not frame:
            session.outbox.send(session.sock)
            return not session.outbox.has_data()  # the rest waits for the socket (settled)
        sent = session.sock.send(frame)
    except BlockingIOError:
        sent = 0
    except OSError:
        front._end(session)
        return False
    if sent == len(frame):
        return True
    session.outbox.reply(frame[sent:])  # the rest waits for the socket (settled)
    return False


def _decoded(session: Session, body: memoryview) -> dict[str, Any] | None:
    """The message of a frame's body, as :meth:`FrameReader.decode` reads it; None when the
    frame is bad (the session is then told so and closed)."""
    reader = session.reader
    if body[0] != MARK:
        try:  # FrameReader.decode's common case, without its call
            message = _unpackb(body, raw=False, ext_hook=reader.ext_hook, strict_map_key=True)
        except Exception:  # noqa: BLE001 - decode says what is wrong with the frame
            message = None
        if type(message) is dict:
            return message
    try:
        return reader.decode(body)
    except FrameError as error:
        session.fatal(error.reference, str(error))
        return None


def _framed_call(front: FrontEnd, session: Session, count: int) -> bytes | None:
    """Serve a call frame (:mod:`iokit_sdk.iokitlib.callframe`) of a common call, as
    :func:`_call` serves its map: the reply's call frame, or :data:`_QUEUED`; None, and
    nothing done, for any other (a bad frame, an unknown handle, a count out of range)."""
    received = front._received
    if count < _REQUEST_END or received[_KIND] != CALL:
        return None
    (_, _, _, request_id, handle, selector, scalar_count, scalar_out,
     struct_out) = _unpack_request(received)
    scalars_end = _REQUEST_END + 8 * scalar_count
    if scalar_count >= len(SCALARS) or count < scalars_end:
        return None  # the map's checks say what is wrong
    result = _run(front, session, request_id, handle, selector,
                  SCALARS[scalar_count].unpack_from(received, _REQUEST_END),
                  bytes(received[scalars_end:count]) if count > scalars_end else b"",
                  scalar_out, struct_out)
    if not isinstance(result, tuple):  # not a common call (None), or answered (_QUEUED)
        return result
    return pack_reply(request_id, *result)  # a failure's outputs are empty


def _run(front: FrontEnd, session: Session, request_id: int, handle: int, selector: int,
         scalars: tuple[int, ...], structure: bytes, scalar_out: int, struct_out: int
         ) -> tuple[int, list[int], bytes] | bytes | None:
    """A common call's method (:func:`~.userclient_ops.plain_run`), then the work it queued,
    as :func:`~.requests.handle` runs a request: its result; None when it was not a common
    call (nothing done); :data:`_QUEUED` when it failed, the failure answered."""
    ctx = front.ctx
    try:
        # Checked as :func:`~.requests.handle` checks a request: an external method is
        # driver code.
        result = ctx.driver_work.run_checked(
            partial(_plain, ctx, session, handle, selector, scalars, structure, scalar_out,
                    struct_out), "while serving a client's call request",
            _client_of(session, handle))
    except Exception as error:  # noqa: BLE001 - the kernel outlives a failed request
        answer(ctx, session, "call", request_id, failed(ctx, session, "call", error))
        return _QUEUED
    return result


def _client_of(session: Session, handle: int) -> IOService | None:
    """The user client a call's connection is to (:func:`~.requests.driver_of` of a call,
    without its map and its search: this runs for every call)."""
    found = session.handles.objects.get(handle)
    return found.client if type(found) is Connection else None


def _plain(ctx: KernelContext, session: Session, handle: int, selector: int,
           scalars: tuple[int, ...], structure: bytes, scalar_out: int, struct_out: int
           ) -> tuple[int, list[int], bytes] | None:
    """:func:`~.userclient_ops.plain_run`, then the work it queued."""
    result = plain_run(ctx, session, handle, selector, scalars, structure, scalar_out,
                       struct_out)
    if result is not None:
        kernel = ctx.host.kernel
        if kernel.pending_jobs():
            kernel.run_until_quiet()
    return result


def _call(front: FrontEnd, session: Session, message: dict[str, Any], request_id: int
          ) -> bytes | None:
    """Serve a common call (``IOConnectCallMethod``) as :func:`~.requests.handle` does,
    without its generic steps: the reply's frame, to be written now, or :data:`_QUEUED`
    when the reply went to the outbox (a failure); None, and nothing done, for any other
    call."""
    plain = plain_fields(message)
    result = None if plain is None else _run(front, session, request_id, *plain)
    if not isinstance(result, tuple):  # not a common call (None), or answered (_QUEUED)
        return result
    ret, outputs, data = result
    fields = ({"ret": ret, "id": request_id} if ret else
              {"ret": 0, "scalars": outputs, "struct": data, "id": request_id})
    packer = session.packer  # Session.encode, written out
    try:
        body = packer.pack(fields)  # a call's reply passes no descriptors
    except (TypeError, ValueError, OverflowError):  # the usual reply says why
        packer.reset()  # what a failed pack left in the packer's buffer goes
        answer(front.ctx, session, "call", request_id, fields)
        return _QUEUED
    frame: bytes = _pack_header(len(body)) + body
    return frame


def _to_inbox(front: FrontEnd, session: Session, count: int) -> None:
    """What the usual read does with ``count`` bytes that are not one whole frame."""
    if not count:
        front.end_of_stream(session)
        return
    try:
        session.inbox.extend(session.reader.feed(front._received[:count]))
    except FrameError as error:
        session.bad_frame(error)
        return
    if count == len(front._received) and session.wants_read:
        front._read(session, 0)  # the buffer was filled: more may be waiting
