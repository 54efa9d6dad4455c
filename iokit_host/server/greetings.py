"""Hellos owed: a connection that has not said hello in time is closed.

A Mach port costs its task nothing until it sends; a socket costs the kernel's process a
descriptor and a client slot (:func:`.admission.session_limit`) from the moment it connects.
A peer that connects and never says hello (or sends half of one and stops) would keep its slot
for good, and enough of them would leave none for the programs that talk. Each new connection
has :data:`HELLO_TIMEOUT_S` of wall time (``IOKIT_KERNEL_HELLO_TIMEOUT`` seconds, if set) to
say hello; past it the kernel tells it ``kernel-hello-timeout`` and closes it. A connection
that said hello may stay idle as long as it likes, as an IOKit client may.

A frame granted a share of :data:`.session.UNFINISHED_LIMIT` (:meth:`.Session.settle_grant`)
has as long again to arrive whole: a client that began a large request and stopped would keep
its share for good, and a few of them would leave none for anybody else's large request. Past
it the kernel tells it ``kernel-frame-timeout`` and closes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from iokit_host.server.session import Session
from iokit_host.settings import env_seconds

__all__ = ["HELLO_TIMEOUT_S", "Greetings"]

#: Seconds a new connection has to say hello.
HELLO_TIMEOUT_S = 10.0


class Greetings:
    """The connections that still owe their hello, each with its deadline (wall time).

    :param now: the wall clock (``time.monotonic``; tests give their own).
    """

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        try:
            self.timeout_s = env_seconds("IOKIT_KERNEL_HELLO_TIMEOUT", HELLO_TIMEOUT_S)
        except ValueError:  # a bad setting is not a reason to serve nobody
            self.timeout_s = HELLO_TIMEOUT_S
        self._due: dict[Session, float] = {}  # in the order they connected: deadlines rise
        #: The granted frames' deadlines, by session (in the order they were granted).
        self._frames: dict[Session, float] = {}

    def __bool__(self) -> bool:
        return bool(self._due or self._frames)

    def frame(self, session: Session) -> None:
        """``session``'s grant was settled: a granted frame is due (from its grant on), a
        finished one is not."""
        if not session.granted:
            self._frames.pop(session, None)
        elif session not in self._frames:
            self._frames[session] = self._now() + self.timeout_s

    def expect(self, session: Session) -> None:
        """``session`` just connected: its hello is due."""
        self._due[session] = self._now() + self.timeout_s

    def forget(self, session: Session) -> None:
        """``session`` ended."""
        self._due.pop(session, None)
        self._frames.pop(session, None)

    def overdue(self) -> list[Session]:
        """The sessions whose hello is late (forgotten here); those that said it are
        forgotten too."""
        now = self._now()
        late = []
        for session, due in list(self._due.items()):
            if session.ready or session.gone:
                del self._due[session]
            elif due <= now:
                del self._due[session]
                late.append(session)
        for session, due in list(self._frames.items()):
            if not session.granted or session.gone:
                del self._frames[session]
            elif due <= now:
                del self._frames[session]
                late.append(session)
        return late

    def wait_s(self, wait: float | None) -> float | None:
        """``wait`` (seconds the loop would wait, None for ever), no longer than until the
        next hello is due."""
        waiting = [due for session, due in self._due.items() if not session.ready]
        waiting += [due for session, due in self._frames.items() if session.granted]
        if not waiting:
            return wait
        until = max(min(waiting) - self._now(), 0.0)
        return until if wait is None else min(wait, until)
