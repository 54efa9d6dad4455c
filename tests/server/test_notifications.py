"""Programs' interest notifications: what a watched service sends reaches the program's port,
and termination's ``kIOMessageServiceIsTerminated`` comes in phase 2, after the messages the
service's clients caused in ``willTerminate`` (as ``terminateWorker`` orders them)."""

from __future__ import annotations

import socket
from typing import Any

from hostilekit import HostileInt
from iokit_sdk import IOService
from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader
from iokit_sdk.messages import kIOMessageServiceIsTerminated
from kernelkit import Wired

from iokit_host.server.notifications import NotificationPort
from iokit_host.server.session import Session

_GOING = 0xE0001234  # a family's own message, sent while the service goes


class _Closer(IOService):
    """A client that tells its provider's other listeners it is going, in willTerminate."""

    def will_terminate(self, provider: IOService, options: int) -> bool:
        provider.message_clients(_GOING, {"from": "willTerminate"})
        return True


def _messages(session: Session, end: socket.socket) -> list[tuple[int, Any]]:
    session.outbox.send(session.sock)
    end.settimeout(5)
    notes = FrameReader(MAX_KERNEL_FRAME).feed(end.recv(1 << 20))
    return [(n["message"], n["argument"]) for n in notes if n.get("kind") == "interest"]


def test_a_program_hears_termination_after_what_clients_said_in_will_terminate(
        wired: Wired) -> None:
    ctx, session, program_end, device = wired
    ctx.host.plug(_Closer(name="closer"), device)
    port = NotificationPort(session, handle=1)
    ctx.notifications.add_interest(port, device, "IOGeneralInterest", 7)
    ctx.host.unplug("pci14e4,4331")
    assert _messages(session, program_end) == [(_GOING, {"from": "willTerminate"}),
                                               (kIOMessageServiceIsTerminated, None)]


def test_an_argument_of_a_drivers_own_int_or_past_64_bits_reaches_the_program(
        wired: Wired) -> None:
    """A driver's ``message_clients`` argument of an ``int`` subclass (its ``__int__`` its own
    code) or a number past 64 bits is a registry value: the program hears it as the registry
    would send it, and no code of the driver runs in the kernel's handler. Packed as given,
    the program lost each message and the kernel blamed its own handler."""
    ctx, session, program_end, device = wired
    port = NotificationPort(session, handle=1)
    ctx.notifications.add_interest(port, device, "IOGeneralInterest", 7)
    device.message_clients(_GOING, HostileInt(5))
    device.message_clients(_GOING, {"frames": [HostileInt(6)]})
    device.message_clients(_GOING, (1 << 70) + 9)  # cut to the 64 bits an OSNumber holds
    assert _messages(session, program_end) == [(_GOING, 5), (_GOING, {"frames": [6]}),
                                               (_GOING, 9)]
    assert not ctx.host.diagnostics
