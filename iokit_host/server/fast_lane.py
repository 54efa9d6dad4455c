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
once. Whenever anything else happens (a partial or several frames, a hang-up, a request that
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

from typing import TYPE_CHECKING, Any

import msgpack
from iokit_sdk.iokitlib.wire import FrameError
from iokit_sdk.wirecodec import HEADER

from iokit_host.server.requests import answer, failed, handle
from iokit_host.server.session import Outbox, Session
from iokit_host.server.userclient_ops import plain_call

if TYPE_CHECKING:
    from iokit_host.server.frontend import FrontEnd

__all__ = ["NOTHING", "one_request"]

_HEADER_SIZE = HEADER.size
_unpack_header = HEADER.unpack_from
_pack_header = HEADER.pack
_unpackb = msgpack.unpackb
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
    reader = session.reader
    try:  # FrameReader.decode's common case, without its call
        message = _unpackb(received[_HEADER_SIZE:count], raw=False, ext_hook=reader.ext_hook,
                           strict_map_key=True)
    except Exception:  # noqa: BLE001 - decode says what is wrong with the frame
        message = None
    if type(message) is not dict:
        try:
            message = reader.decode(received[_HEADER_SIZE:count])
        except FrameError as error:
            session.fatal(error.reference, str(error))
            return False
    queued = Outbox.queued
    request_id = message.get("id")
    frame = (_call(front, session, message, request_id)
             if message.get("op") == "call" and type(request_id) is int else None)
    if frame is None:
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


def _call(front: FrontEnd, session: Session, message: dict[str, Any], request_id: int
          ) -> bytes | None:
    """Serve a common call (``IOConnectCallMethod``) as :func:`~.requests.handle` does,
    without its generic steps: the reply's frame, to be written now, or :data:`_QUEUED`
    when the reply went to the outbox (a failure); None, and nothing done, for any other
    call."""
    ctx = front.ctx
    try:
        result = plain_call(ctx, session, message)
        if result is None:
            return None
        kernel = ctx.host.kernel
        if kernel.pending_jobs():
            kernel.run_until_quiet()
    except Exception as error:  # noqa: BLE001 - the kernel outlives a failed request
        answer(ctx, session, "call", request_id, failed(ctx, session, "call", error))
        return _QUEUED
    ret, outputs, data = result
    fields = ({"ret": ret, "id": request_id} if ret else
              {"ret": 0, "scalars": outputs, "struct": data, "id": request_id})
    packer = session.packer  # Session.encode, written out
    try:
        body = packer.pack(fields)  # a call's reply passes no descriptors
    except (TypeError, ValueError, OverflowError):  # the usual reply says why
        packer.reset()  # what a failed pack left in the packer's buffer goes
        answer(ctx, session, "call", request_id, fields)
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
