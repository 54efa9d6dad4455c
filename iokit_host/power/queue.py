"""The PM work queue: power changes as resumable tasks on one queue (``IOPMWorkQueue``).

IOKit runs every power change as a state machine on one PM work loop (``gIOPMWorkLoop``): a
change that must wait (for a driver's acknowledgement, for its power children's changes)
returns to the loop and is resumed when what it waits for arrives, so a tree of any depth is
walked without recursion. Here a change is a generator that yields a :class:`Wait`; each
:class:`Ack` it created resolves that wait when it is answered (a driver's acknowledgement, a
child's change finishing, a timeout on the host clock). :class:`WorkQueue` runs the tasks that
are ready, one step each, in FIFO order, until none is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from iokit_host.kernel.collector import young_collections_only

if TYPE_CHECKING:
    from iokit_host.clock import Timer

__all__ = ["Ack", "Task", "Wait", "WorkQueue"]


class Wait:
    """What a task waits for: the acknowledgements still outstanding."""

    __slots__ = ("pending", "queue", "task")

    def __init__(self, queue: WorkQueue) -> None:
        self.pending = 0
        self.queue = queue
        self.task: Task | None = None

    def ack(self, kind: str, who: Any = None, ordinal: int = 0, started_ns: int = 0) -> Ack:
        """A new acknowledgement this wait needs."""
        self.pending += 1
        return Ack(self, kind, who, ordinal, started_ns)

    def _resolved(self) -> None:
        self.pending -= 1
        if not self.pending and self.task is not None:
            task, self.task = self.task, None
            self.queue.resume(task)


class Ack:
    """One awaited acknowledgement; :meth:`resolve` answers it (only the first time counts).

    :param kind: what is awaited (``set-power-state``, ``will-change``, ``did-change``,
        ``child``, ``response``).
    :param who: the driver or client that owes it.
    :param ordinal: the state it is for.
    :param started_ns: when the wait began (host clock).

    :attr:`timer` is its timeout on the host clock, cancelled when it is answered; :attr:`slot`
    the log slot of the call it ends, when there is one; :attr:`origin` the state the service
    was in when the call was made.
    """

    __slots__ = ("done", "kind", "ordinal", "origin", "slot", "started_ns", "timer", "wait",
                 "who")

    def __init__(self, wait: Wait, kind: str, who: Any, ordinal: int, started_ns: int) -> None:
        self.wait = wait
        self.kind = kind
        self.who = who
        self.ordinal = ordinal
        self.started_ns = started_ns
        self.done = False
        self.timer: Timer | None = None
        self.slot: int | None = None
        #: The state the service was in when the call was made.
        self.origin: int | None = None

    def resolve(self) -> bool:
        """Answer this acknowledgement; False when it was answered already."""
        if self.done:
            return False
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.wait._resolved()
        return True


TaskBody = Generator[Wait, None, None]


class Task:
    """A resumable piece of PM work: ``body`` yields a :class:`Wait` whenever it must wait.

    :param on_done: called once when the body has finished (or failed).
    :param subject: what the task works on, for ``on_done``.
    """

    __slots__ = ("body", "label", "on_done", "subject")

    def __init__(self, body: TaskBody, label: str,
                 on_done: Callable[[Task], None] | None = None, subject: Any = None) -> None:
        self.body = body
        self.label = label
        self.on_done = on_done
        #: What the task works on (a service's power block), for ``on_done``.
        self.subject = subject


class WorkQueue:
    """Runs ready tasks in FIFO order; a task resumes when all it waits for is answered.

    :param on_error: told when a task's body raised (an error in the host's own PM code, or a
        driver error that escaped its guard); the task is finished and the queue goes on.
    """

    def __init__(self, on_error: Callable[[Task, Exception], None]) -> None:
        self._ready: deque[Task] = deque()
        self._on_error = on_error
        self.running = False
        #: Tasks blocked on a wait.
        self.waiting = 0

    def __bool__(self) -> bool:
        return bool(self._ready)

    def spawn(self, task: Task) -> None:
        self._ready.append(task)

    def resume(self, task: Task) -> None:
        self.waiting -= 1
        self._ready.append(task)

    def run(self) -> int:
        """Run until no task is ready; returns the steps taken. Re-entrant calls return 0:
        work they add is picked up by the loop already running."""
        if self.running:
            return 0
        self.running = True
        steps = 0
        try:
            # A system sleep or wake of a large tree makes tens of thousands of short-lived
            # tasks: held back, the full collections they would set off (walking the whole
            # registry, a third of a 10,000-node sleep and wake) find nothing to free.
            with young_collections_only():
                ready = self._ready
                while ready:
                    self._step(ready.popleft())
                    steps += 1
        finally:
            self.running = False
        return steps

    def _step(self, task: Task) -> None:
        body = task.body
        while True:
            try:
                wait = next(body)
            except StopIteration:
                break
            except Exception as error:  # noqa: BLE001 - one failed change must not stop the rest
                self._on_error(task, error)
                break
            if wait.pending:
                wait.task = task
                self.waiting += 1
                return
        if task.on_done is not None:
            task.on_done(task)
