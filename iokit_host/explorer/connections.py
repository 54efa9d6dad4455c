"""The explorer's HTTP connections: bounded in number, and in the time a request may take.

The explorer serves from a thread of ``iokit kernel`` (or ``iokit explore``), so every HTTP
connection costs the kernel's process a descriptor, the same pool its clients' sockets come
from. uvicorn bounds neither how many connections stay open nor how long a request may take
to arrive: a client that sends half a request line and then nothing (slow loris), or a body
one byte at a time, would keep its descriptor for good, and a few hundred of them would leave
the kernel none to accept its own clients with. :class:`GuardedH11Protocol` is uvicorn's h11
protocol with both bounds: past :data:`MAX_CONNECTIONS` a new connection is answered ``503``
and closed at once; a request whose head and body have not all arrived within
:data:`REQUEST_TIMEOUT_S` of the connection's start (or of the previous response) gets
``408`` and the connection closes (``IOKIT_HTTP_REQUEST_TIMEOUT`` seconds, if set). A
request that arrived whole is never cut off: its response (the live stream included) takes
as long as it takes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from iokit_host.settings import env_seconds

__all__ = ["MAX_CONNECTIONS", "REQUEST_TIMEOUT_S", "GuardedH11Protocol"]

#: Open HTTP connections served at once (a browser opens about six per host).
MAX_CONNECTIONS = 64
#: Seconds a request has to arrive whole.
REQUEST_TIMEOUT_S = 10.0


def _refusal(status: bytes, text: str) -> bytes:
    body = text.encode()
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


_BUSY = _refusal(b"503 Service Unavailable",
                 f"the explorer serves at most {MAX_CONNECTIONS} connections at once\n")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a bound on connections and on a request's arrival."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._answered = False  # a response went out: idle now is uvicorn's keep-alive
        try:
            self._timeout_s = env_seconds("IOKIT_HTTP_REQUEST_TIMEOUT", REQUEST_TIMEOUT_S)
        except ValueError:
            self._timeout_s = REQUEST_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > MAX_CONNECTIONS:  # this one counted already
            self._refuse(_BUSY)
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._answered = True
        if not self.transport.is_closing():
            self._arm()  # the next request on this keep-alive connection has as long

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self._timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        """The time for a request to arrive is up: close unless one arrived whole (it is
        being answered; the response rearms the deadline)."""
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state is h11.DONE:
            return
        if self._answered and self.conn.their_state is h11.IDLE \
                and not self.conn.trailing_data[0]:
            return  # idle between requests, nothing of the next one yet: keep-alive's
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            self.cycle.disconnected = True  # the app's receive() sees the client gone
            self.cycle.message_event.set()
            self.transport.close()
            return
        self._refuse(_refusal(b"408 Request Timeout",
                              f"the request did not arrive within {self._timeout_s:g} s\n"))

    def _refuse(self, response: bytes) -> None:
        self._disarm()
        self.transport.write(response)
        self.transport.close()
