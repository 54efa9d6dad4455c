"""The driver process's end of its socket: calls in, requests and completions out.

A dext answers the kernel's IORPC messages on its dispatch queue and makes its own calls into
the kernel (``ChangePowerState``, ``SetProperties``) as synchronous RPCs, while
``AsyncCompletion`` is a one-way message it may send at any time. :class:`DriverLink` does the
same on one socket: the serving thread is the only reader; :meth:`~DriverLink.request` (a
``kcall``) waits for the kernel's ``answer`` and, on the serving thread, serves the calls the
kernel makes meanwhile (the kernel's answer may itself call back in), so calls nest as RPCs do;
another thread's request waits for the serving thread to route its answer. :meth:`notify`
sends a one-way message from any thread, under the send lock so frames never interleave.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from typing import Any

from iokit_host.dext.channel import Channel, ChannelClosed

__all__ = ["NOT_ANSWERED", "NO_REPLY", "DriverLink"]

#: What :meth:`DriverLink.request` returns when the kernel is gone or never answered.
NOT_ANSWERED = object()
#: What a handler returns for a one-way message from the kernel: no reply is sent.
NO_REPLY: dict[str, Any] = {}
#: How long a request from another thread waits for the serving thread to route the answer.
_OTHER_THREAD_WAIT_S = 30.0

Handler = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class _Ended(BaseException):
    """The link's end (the kernel said exit, or is gone), unwinding whatever serves, a
    driver's code included, to :meth:`DriverLink.serve`. Not ``SystemExit``: a driver's own
    ``sys.exit(5)`` is the process's exit with that status, which the kernel reports."""


class DriverLink:
    """One driver process's socket to its kernel.

    :param handle: serves one kernel message (``create``, ``call``...) and returns the reply
        (descriptors it passes under ``fds``, closed here once sent); None for ``exit``.
    :param settled: called each time the serving thread is back at its top level (no kernel
        message being handled): work deferred meanwhile (notifications) runs then.
    """

    def __init__(self, channel: Channel, handle: Handler,
                 settled: Callable[[], None] | None = None) -> None:
        self.channel = channel
        self.handle = handle
        self.settled = settled
        #: How many kernel messages the serving thread is handling (nested while it waits).
        self.depth = 0
        self._send_lock = threading.Lock()
        self._answers: dict[int, Any] = {}
        self._waiting = threading.Condition()
        self._seq = itertools.count(1)
        self._reader: int | None = None
        self.closed = False

    # -- sending ---------------------------------------------------------------------------------
    def send(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> bool:
        """Send ``message`` (with descriptors ``fds``); False when the kernel is gone."""
        with self._send_lock:
            try:
                self.channel.send(message, fds)
            except ChannelClosed:
                self.closed = True
                return False
        return True

    def notify(self, message: dict[str, Any]) -> bool:
        """A one-way message to the kernel (an async completion), from any thread."""
        return self.send(message)

    def request(self, message: dict[str, Any]) -> Any:
        """A call into the kernel (``kcall``): its answer's result, or :data:`NOT_ANSWERED`."""
        seq = next(self._seq)
        if threading.get_ident() == self._reader:
            if not self.send({**message, "op": "kcall", "seq": seq}):
                return NOT_ANSWERED
            return self._serve_until(seq)
        with self._waiting:
            if not self.send({**message, "op": "kcall", "seq": seq}):
                return NOT_ANSWERED
            if not self._waiting.wait_for(lambda: seq in self._answers or self.closed,
                                          _OTHER_THREAD_WAIT_S):
                return NOT_ANSWERED
            return self._answers.pop(seq, NOT_ANSWERED)

    # -- serving ---------------------------------------------------------------------------------
    def serve(self) -> None:
        """Serve the kernel's calls until it says ``exit`` or its end closes."""
        self._reader = threading.get_ident()
        try:
            self._serve_until(None)
        except _Ended:
            pass

    def _serve_until(self, seq: int | None) -> Any:
        """Serve calls until the answer ``seq`` arrives (None: until the end)."""
        while True:
            if seq is not None and seq in self._answers:  # read by a request nested in ours
                with self._waiting:
                    return self._answers.pop(seq)
            try:
                message = self.channel.receive()
            except ChannelClosed:
                self._close()
                if seq is None:
                    return NOT_ANSWERED
                raise _Ended from None  # the kernel is gone: so is this process
            if message.get("op") == "answer":
                answered = message.get("seq")
                if answered == seq:
                    return message.get("result")
                if type(answered) is not int:
                    continue
                with self._waiting:
                    self._answers[answered] = message.get("result")
                    self._waiting.notify_all()
                continue
            self.depth += 1
            try:
                reply = self.handle(message)
            finally:
                self.depth -= 1
            if reply is None:  # exit
                self._close()
                raise _Ended
            if reply is not NO_REPLY:  # a one-way message (a notification): nothing goes back
                self._reply(message, reply)
            if self.depth == 0 and self.settled is not None:
                self.settled()

    def _reply(self, message: dict[str, Any], reply: dict[str, Any]) -> None:
        if "seq" in message:
            reply["seq"] = message["seq"]
        fds = tuple(reply.pop("fds")) if "fds" in reply else ()
        sent = self.send(reply, fds)
        for fd in fds:  # the reply's own copies: the kernel holds them now
            os.close(fd)
        if not sent:
            self._close()
            raise _Ended

    def _close(self) -> None:
        with self._waiting:
            self.closed = True
            self._waiting.notify_all()
