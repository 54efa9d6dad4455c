"""The root domain's system messages and their answers (IOServicePM.cpp ``tellClientsWithResponse``,
``allowPowerChange``, ``cancelPowerChange``; IOPMrootDomain.cpp ``tellChangeDown``,
``tellChangeUp``).

Clients that called ``register_priority_sleep_wake_interest`` get, through ``message()``:

- ``kIOMessageCanSystemSleep`` before an idle sleep: an answer is expected; a cancel vetoes;
- ``kIOMessageSystemWillSleep`` before the power tree drops: an answer is expected; a cancel
  is ignored (the sleep is decided);
- ``kIOMessageSystemWillPowerOn`` and ``kIOMessageSystemHasPoweredOn`` around a wake, and after
  a vetoed idle sleep: no answer.

A question carries an ``IOPowerStateChangeNotification``. ``message()`` returning
``kIOReturnSuccess`` with ``return_value`` 0 answers at once; a ``return_value`` of N µs asks
for time (at most 30 s, ``kMaxTimeRequested``) and the client answers later with
``allow_power_change(power_ref)`` or ``cancel_power_change(power_ref)``; any other return
value means "not a client of ours" and counts as an allow; no answer in time counts as an allow
("tardy equates to approval"). Each delivery and each late or vetoing answer is logged.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import TYPE_CHECKING

from iokit_sdk.messages import MESSAGE_NAMES, kIOMessageCanSystemSleep
from iokit_sdk.pm import IOPowerStateChangeNotification
from iokit_sdk.returns import IOReturn

from iokit_host.kernel.driver_calls import DriverFault
from iokit_host.kernel.driver_results import plain_int, short_repr
from iokit_host.power.queue import Ack, Wait

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

    from iokit_host.power.acks import Answers
    from iokit_host.power.context import PowerContext

__all__ = ["MAX_TIME_REQUESTED_US", "Question", "SleepWakeClients"]

MAX_TIME_REQUESTED_US = 30_000_000


class Question:
    """One message that expects answers: the wait for them and whether anyone cancelled."""

    def __init__(self, wait: Wait, message_type: int) -> None:
        self.wait = wait
        self.message_type = message_type
        self.cancelled_by: list[IOService] = []


class SleepWakeClients:
    """The root domain's sleep/wake interest clients and the answers they owe."""

    def __init__(self, context: PowerContext, answers: Answers) -> None:
        self._context = context
        self._answers = answers
        self.clients: list[IOService] = []
        self._refs = itertools.count(1)
        #: ref -> (the question, the client's ack)
        self._open: dict[int, tuple[Question, Ack]] = {}

    def register(self, service: IOService) -> int:
        if service not in self.clients:
            self.clients.append(service)
        return IOReturn.SUCCESS

    def forget(self, service: IOService) -> None:
        if service in self.clients:
            self.clients.remove(service)

    # -- telling -------------------------------------------------------------------------------------
    def tell(self, root: IOService, message_type: int) -> None:
        """Send a message that needs no answer to every client."""
        for client in tuple(self.clients):
            if not client.is_inactive():
                self._deliver(client, root, message_type, None)

    def ask(self, root: IOService, message_type: int, state: int, flags: int) -> Question:
        """Send a question to every client; the question's wait ends when all answered."""
        context = self._context
        question = Question(Wait(context.queue), message_type)
        for client in tuple(self.clients):
            if client.is_inactive():
                continue
            ref = next(self._refs)
            notice = IOPowerStateChangeNotification(ref, 0, state, flags)
            ack = question.wait.ack("response", client, state, context.clock.now_ns())
            self._open[ref] = (question, ack)
            result = self._deliver(client, root, message_type, notice)
            if ack.done:
                continue  # answered from inside message()
            wants = notice.return_value
            if plain_int(result) == IOReturn.SUCCESS and type(wants) is int and wants > 0:
                due = context.clock.now_ns() + min(wants, MAX_TIME_REQUESTED_US) * 1000
                ack.timer = context.clock.call_at(due, partial(self._late, ref))
            else:
                self._close(ref)
        return question

    def answer(self, client: IOService, ref: object, allow: bool) -> int:
        """``allow_power_change`` / ``cancel_power_change`` from ``client``."""
        number = plain_int(ref)  # the driver's value: its own __hash__ and __eq__ never run
        entry = self._open.get(number) if number is not None else None
        if entry is None or entry[1].who is not client or number is None:
            self._answers.fault(client, f"{'allow' if allow else 'cancel'}_power_change"
                                        f"({short_repr(ref)}) answers no open question; "
                                        "ignored", None)
            return IOReturn.BAD_ARGUMENT
        question = entry[0]
        context = self._context
        if not allow:
            question.cancelled_by.append(client)
            vetoable = question.message_type == kIOMessageCanSystemSleep
            context.log.add(context.clock.now_ns(), "veto", client,
                            f"{client.iokit_class_name} cancelled "
                            f"{MESSAGE_NAMES.get(question.message_type, 'the change')}"
                            + ("" if vetoable else ": ignored, the sleep is decided"))
        self._close(number)
        context.kick()
        return IOReturn.SUCCESS

    def owing(self) -> list[IOService]:
        """The clients that owe an answer to a system power message, oldest question first."""
        return [ack.who for _, ack in self._open.values()]

    def describe_open(self) -> list[str]:
        """The answers still owed, for the watchdog."""
        now = self._context.clock.now_ns()
        return [f"{ack.who.iokit_class_name}'s answer to "
                f"{MESSAGE_NAMES.get(question.message_type, 'a message')} "
                f"(for {(now - ack.started_ns) // 1_000_000} ms)"
                for question, ack in self._open.values()]

    # -- helpers -------------------------------------------------------------------------------------
    def _late(self, ref: int) -> None:
        entry = self._open.get(ref)
        if entry is None:
            return
        question, ack = entry
        context = self._context
        now = context.clock.now_ns()
        context.log.add(now, "ack-timeout", ack.who,
                        f"no answer to {MESSAGE_NAMES.get(question.message_type, 'message')} "
                        f"after {(now - ack.started_ns) // 1_000_000} ms: counted as allowed")
        self._close(ref)
        context.kick()

    def _close(self, ref: int) -> None:
        entry = self._open.pop(ref, None)
        if entry is not None:
            entry[1].resolve()

    def _deliver(self, client: IOService, root: IOService, message_type: int,
                 argument: IOPowerStateChangeNotification | None) -> object:
        context = self._context
        name = MESSAGE_NAMES.get(message_type, hex(message_type))
        context.log.add(context.clock.now_ns(), "message", client, f"{name} to "
                        f"{client.iokit_class_name}")
        result = context.kernel.driver_calls.call(
            context.kernel.hook.iokit_message, service=client, message_type=message_type,
            provider=root, argument=argument)
        if isinstance(result, DriverFault):
            self._answers.fault(client, f"message({name}) {result.reason('').strip()}; "
                                        "counted as allowed", None, error=result)
        return result
