"""What keeps the explorer local and read-only: host and origin checks, and safe headers.

The explorer binds 127.0.0.1 by default, but a page on another site can still make the
browser send requests there (and a DNS rebinding can make such a page look same-origin). So
every request must name the host the explorer serves as (``127.0.0.1``, ``localhost``,
``[::1]`` or the address it was bound to), a request that changes anything must come from the
explorer's own page (its ``Origin``, port included) with a JSON body, and every response
forbids framing and inline scripts (``Content-Security-Policy``): property values are shown
as text, and even a value that looks like HTML cannot run.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from h11 import LocalProtocolError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iokit_host.errors import Diagnostic
from iokit_host.explorer.errors import error_response

__all__ = ["LOCAL_HOSTS", "SECURITY_HEADERS", "Guard"]

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SECURITY_HEADERS = {
    "content-security-policy": ("default-src 'self'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                                "frame-ancestors 'none'; form-action 'none'"),
    "x-content-type-options": "nosniff",
    # No other site's page may load these answers, not even as an image or a script (whose
    # bytes a side channel could read): the registry is the user's.
    "cross-origin-resource-policy": "same-origin",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class Guard:
    """ASGI middleware: refuses foreign hosts and origins, adds :data:`SECURITY_HEADERS`.

    :param hosts: the host names accepted besides :data:`LOCAL_HOSTS`; ``"*"`` accepts any.
    :param any_ip: accept any IP address as the host too (an explorer bound to a non-local
        address on purpose, reached by one of the machine's addresses). A name is accepted only
        when listed: a page's DNS rebinding names the attacker's domain, never an address.
    """

    def __init__(self, app: ASGIApp, hosts: Iterable[str] = (), *,
                 any_ip: bool = False) -> None:
        self.app = app
        self.hosts = LOCAL_HOSTS | {h.strip("[]").lower() for h in hosts}
        self.any_ip = any_ip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            response = error_response(403, refusal)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            try:
                await send(message)
            except LocalProtocolError:
                # The request's body broke HTTP (a chunk size that is no number): uvicorn
                # answered 400 itself and the connection closes, so this answer has nowhere
                # to go. Raised on, it was a traceback in the kernel's log per request.
                return

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> Diagnostic | None:
        host = _hostname(headers.get("host", ""))
        if not self._answers_for(host):
            return Diagnostic("explorer-host-refused",
                              f"this explorer does not answer for host {host!r}",
                              hint="open it as http://127.0.0.1:PORT/ (or the address it "
                                   "printed)")
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return None
        origin = headers.get("origin")
        # The whole origin, port too: another site on this machine (a dev server on
        # 127.0.0.1:3000) is another origin, and may not change the kernel either.
        if origin is not None and urlsplit(origin).netloc.strip().lower() != headers.get(
                "host", "").strip().lower():
            return Diagnostic("explorer-origin-refused",
                              f"a request from {origin!r} may not change this kernel",
                              hint="use the explorer's own page")
        return None


    def _answers_for(self, host: str) -> bool:
        if "*" in self.hosts or host in self.hosts:
            return True
        if not self.any_ip:
            return False
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return True


def _hostname(netloc: str) -> str:
    """``host`` of ``host:port`` or ``[v6]:port``, lower case."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0]
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc
