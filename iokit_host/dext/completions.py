"""Async references lent to driver processes: ``AsyncCompletion`` across the boundary.

A program's ``IOConnectCallAsyncMethod`` gives the kernel a wake port and reference words
(``OSAsyncReference64``); a dext's ``ExternalMethod`` keeps them and later calls
``AsyncCompletion`` (``sendAsyncResult64`` in a kext), which the kernel turns into a message on
the program's port. Here the kernel lends the driver process a token standing for the reference
and keeps the reference itself: a completion the process sends names the token, and the kernel
checks it (a token this process was lent, a result, at most ``kMaxAsyncArgs`` numbers) before
the program sees anything. A reference lives as long as its user client, so a driver may
complete it again and again (the "tell me when it changes" pattern). When the process dies,
every reference still lent to it is completed once more, with ``kIOReturnAborted``, so a
program waiting on its port wakes (IOKit itself leaves such a program waiting); the kernel
cannot tell a watch from a finished one-shot call, so a program may see ``kIOReturnAborted``
for a call it had already had its answer to.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iokit_sdk.returns import MACH_SEND_INVALID_DEST, IOReturn
from iokit_sdk.userclient import OSAsyncReference64, kMaxAsyncArgs

from iokit_host.errors import Diagnostic, Severity, quoted

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["MAX_REFERENCES_PER_CLIENT", "Completions"]

#: References one user client may have lent out at once; an async call past it is refused
#: with ``kIOReturnNoResources`` (the kernel holds each one until its client goes).
MAX_REFERENCES_PER_CLIENT = 1024
_U32 = 0xFFFFFFFF
_U64 = (1 << 64) - 1


@dataclass(eq=False, slots=True)
class _Lent:
    """An async reference lent to a driver process, and whose client it completes."""

    token: int
    server: str
    client: object
    reference: OSAsyncReference64


class Completions:
    """The references lent to one kernel's driver processes, by token."""

    def __init__(self, kernel: WorkLoop) -> None:
        self.kernel = kernel
        self._lent: dict[int, _Lent] = {}
        self._by_key: dict[tuple[int, tuple[int, ...]], int] = {}
        self._by_client: dict[int, set[int]] = {}
        self._tokens = itertools.count(1)

    def __len__(self) -> int:
        return len(self._lent)

    def lend(self, server: str, client: object, reference: OSAsyncReference64) -> int | None:
        """The token for ``reference`` (the same one when the client lends the same words
        again, now routed to the newest port), or None past the client's limit."""
        key = (id(client), tuple(reference.words))
        token = self._by_key.get(key)
        if token is not None and token in self._lent:
            self._lent[token] = _Lent(token, server, client, reference)
            return token
        tokens = self._by_client.setdefault(id(client), set())
        if len(tokens) >= MAX_REFERENCES_PER_CLIENT:
            return None
        token = next(self._tokens)
        self._lent[token] = _Lent(token, server, client, reference)
        self._by_key[key] = token
        tokens.add(token)
        return token

    def drop(self, token: int) -> None:
        lent = self._lent.pop(token, None)
        if lent is None:
            return
        self._by_key.pop((id(lent.client), tuple(lent.reference.words)), None)
        tokens = self._by_client.get(id(lent.client))
        if tokens is not None:
            tokens.discard(token)
            if not tokens:
                del self._by_client[id(lent.client)]

    def forget_client(self, client: object) -> None:
        """``client`` is gone: the references it lent go with it."""
        for token in list(self._by_client.get(id(client), ())):
            self.drop(token)

    def complete(self, server: str, message: Mapping[str, Any]) -> None:
        """A completion from driver process ``server``: checked, then sent to the program."""
        token, result, values = message.get("ref"), message.get("result"), message.get("args")
        lent = self._lent.get(token) if type(token) is int else None
        problem = None
        if lent is None or lent.server != server:
            problem = f"names async reference {quoted(token)}, which it was not lent"
        elif type(result) is not int:
            problem = f"sent result {quoted(result)}, not an IOReturn"
        elif not isinstance(values, list) or not all(type(v) is int for v in values):
            problem = "sent arguments that are not a list of numbers"
        elif len(values) > kMaxAsyncArgs:
            problem = f"sent {len(values)} arguments, more than kMaxAsyncArgs ({kMaxAsyncArgs})"
        if problem is not None or lent is None:
            self.kernel.report(Diagnostic(
                "dext-bad-async-result", f"driver process {server} {problem}; the completion "
                "is dropped", subject=server, severity=Severity.WARNING,
                hint="complete a reference with send_async_result(reference, result, args) "
                     "from the external method's arguments"))
            return
        assert isinstance(values, list) and isinstance(result, int)
        sent = lent.reference.deliver(result & _U32, tuple(v & _U64 for v in values))
        if sent == MACH_SEND_INVALID_DEST:  # the program or its port is gone
            self.drop(lent.token)

    def abort(self, server: str) -> int:
        """Driver process ``server`` died: complete everything lent to it with
        ``kIOReturnAborted``, once, and drop it; returns how many callers were told."""
        told = 0
        for lent in [lent for lent in self._lent.values() if lent.server == server]:
            self.drop(lent.token)
            if lent.reference.deliver(IOReturn.ABORTED, ()) == IOReturn.SUCCESS:
                told += 1
        return told
