"""Notifications a driver sends from a thread of its own reach the program at once, in order,
and a late one after the kernel stopped neither raises nor hangs (:mod:`iokit_host.server.loop_mail`)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sized
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hostkit import make_host, wifi_nub
from iokit_sdk import IOService
from iokit_sdk.iokitlib import (
    IOConnectCallAsyncMethod,
    IOConnectCallMethod,
    IOConnectCallStructMethod,
    IONotificationPortCreate,
    IONotificationPortDispatch,
    IORegistryEntryCreateCFProperty,
    IORegistryEntryGetName,
    IOReturn,
    IOServiceAddInterestNotification,
    IOServiceAddMatchingNotification,
    IOServiceGetMatchingService,
    IOServiceMatching,
    IOServiceNameMatching,
    IOServiceOpen,
    MainPort,
    io_connect_t,
    io_iterator_t,
    io_service_t,
    kIOGeneralInterest,
    kIOPublishNotification,
    mach_task_self,
)
from iokit_sdk.iokitlib.notify import IONotificationPort
from iokit_sdk.iokitlib.wire import MAX_KERNEL_FRAME, FrameReader
from iokit_sdk.returns import MACH_SEND_INVALID_DEST
from iokit_sdk.service import SYNCHRONOUS
from iokit_sdk.userclient import OSAsyncReference64
from kernelkit import KernelFactory, KernelProcess, Wired, kernel_env

from iokit_host.server.args import Args
from iokit_host.server.context import KernelContext
from iokit_host.server.loop_mail import LoopMail
from iokit_host.server.notifications import NotificationPort
from iokit_host.server.registry_ops import add_handles
from iokit_host.server.session import Session
from iokit_host.server.signals import StopSignals
from iokit_host.server.userclient_ops import _async_reference

#: The completions' deadline: generous, as the machine may be loaded. The kernel below checks
#: its socket's path once an hour, so without the loop being woken for a driver's thread the
#: completion would wait that long (it used to wait for the next check: a second).
ARRIVAL_S = 60.0
FROM_THREADS = 11  # the test kext's selectors
PUBLISH_FROM_THREAD = 12
POWER_FROM_THREAD = 13
POWER_CHANGED = 0xE0009999  # what the driver tells its clients, the state as argument


@pytest.fixture
def idle_kernel(kernel_factory: KernelFactory) -> KernelProcess:
    """A kernel whose loop, idle, wakes for nothing but its sockets and signals."""
    return kernel_factory.start(
        env=kernel_env(kernel_factory.kext_dist, IOKIT_KERNEL_SOCKET_CHECK="3600"))


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "go.fifo"
    os.mkfifo(path)
    return path


def _connect(port: MainPort) -> io_connect_t:
    service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
    return IOServiceOpen(service, mach_task_self(), 0)


def _start_threads(connect: io_connect_t, notify: IONotificationPort, fifo: Path,
                   threads: int, each: int) -> list[tuple[int, tuple[int, ...]]]:
    """Ask the driver for ``threads`` x ``each`` completions from its own threads, sent once
    ``fifo`` is written; returns the list they are dispatched into."""
    got: list[tuple[int, tuple[int, ...]]] = []
    reference = [0, lambda refcon, result, args: got.append((result, args)), None]
    IOConnectCallAsyncMethod(connect, FROM_THREADS, notify, reference, [threads, each],
                             os.fsencode(fifo))
    return got


def _release(fifo: Path) -> None:
    """Let the driver's thread go (it waits for the FIFO's end)."""
    with open(fifo, "wb"):
        pass


def _dispatch(notify: IONotificationPort, got: Sized, count: int) -> None:
    deadline = time.monotonic() + ARRIVAL_S
    while len(got) < count and time.monotonic() < deadline:
        IONotificationPortDispatch(notify, deadline - time.monotonic())


def test_a_completion_from_a_drivers_thread_reaches_an_idle_program(
        idle_kernel: KernelProcess, fifo: Path) -> None:
    with MainPort(idle_kernel.path) as port:
        connect = _connect(port)
        notify = IONotificationPortCreate(port)
        got = _start_threads(connect, notify, fifo, 1, 1)
        _release(fifo)  # after the call's reply: the kernel's loop is idle, waiting
        _dispatch(notify, got, 1)
        assert got == [(IOReturn.SUCCESS, (0, 0))]
    assert idle_kernel.stop() == 0  # its exit waits for the driver's thread: the file is whole
    assert (fifo.parent / "go.fifo.sent").read_text() == f"{IOReturn.SUCCESS}\n"


def test_completions_from_several_threads_all_arrive_each_threads_in_order(
        idle_kernel: KernelProcess, fifo: Path) -> None:
    threads, each = 4, 200  # 800: within one port's queue, so none may be dropped
    with MainPort(idle_kernel.path) as port:
        connect = _connect(port)
        notify = IONotificationPortCreate(port)
        got = _start_threads(connect, notify, fifo, threads, each)
        _release(fifo)
        _dispatch(notify, got, threads * each)
    assert len(got) == threads * each
    assert {result for result, _ in got} == {IOReturn.SUCCESS}
    for index in range(threads):
        assert [n for thread, n in (args for _, args in got) if thread == index] == \
            list(range(each))
    assert idle_kernel.stop() == 0
    sent = (fifo.parent / "go.fifo.sent").read_text().split()
    assert sent == [str(int(IOReturn.SUCCESS))] * (threads * each)


def test_a_service_a_drivers_thread_registers_is_matched_and_published_at_once(
        idle_kernel: KernelProcess, fifo: Path) -> None:
    """Its matching job wakes the idle loop: it used to wait for the next request."""
    with MainPort(idle_kernel.path) as port:
        connect = _connect(port)
        notify = IONotificationPortCreate(port)
        published: list[str] = []

        def arrived(refcon: object, iterator: io_iterator_t) -> None:
            published.extend(IORegistryEntryGetName(service) for service in iterator)

        iterator = IOServiceAddMatchingNotification(
            notify, kIOPublishNotification, IOServiceNameMatching("ThreadNub"), arrived)
        assert list(iterator) == []  # armed
        IOConnectCallStructMethod(connect, PUBLISH_FROM_THREAD, os.fsencode(fifo), 0)
        _release(fifo)
        _dispatch(notify, published, 1)
        assert published == ["ThreadNub"]


def test_a_power_change_a_drivers_thread_asks_for_runs_once_on_the_loop_and_is_told_at_once(
        idle_kernel: KernelProcess, fifo: Path) -> None:
    """A driver's own thread asks for a power state while another program keeps calling the
    driver: the change runs on the kernel's loop (it ran the PM queue on the asking thread,
    beside the loop's client calls), once, and the idle loop is woken for it, so the driver's
    message about it reaches a program without another request."""
    with MainPort(idle_kernel.path) as port:
        connect = _connect(port)
        notify = IONotificationPortCreate(port)
        driver = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        told: list[int] = []
        IOServiceAddInterestNotification(
            notify, driver, kIOGeneralInterest,
            lambda refcon, service, message, state: told.append(state)
            if message == POWER_CHANGED else None)
        _ask_power_from_thread(connect, fifo, notify, told, 2)  # now power managed, on
        before = len(_power_calls(driver))
        told.clear()
        with _calling_meanwhile(idle_kernel.path) as calls:
            _ask_power_from_thread(connect, fifo, notify, told, 1)
        assert calls and set(calls) == {b"ohce"}  # the echo, reversed
        assert told == [1]
        after = _power_calls(driver)
        assert [ordinal for _, ordinal in after[before:]] == [1]  # applied once
        assert "test-driver-power" not in {name for name, _ in after}  # all on the loop
        power = IORegistryEntryCreateCFProperty(driver, "IOPowerManagement")
        assert power["CurrentPowerState"] == 1


def _ask_power_from_thread(connect: io_connect_t, fifo: Path, notify: IONotificationPort,
                           told: list[int], ordinal: int) -> None:
    """Have the driver's thread ask for ``ordinal``; wait (dispatching) until it is told."""
    IOConnectCallMethod(connect, POWER_FROM_THREAD, [ordinal], os.fsencode(fifo))
    _release(fifo)
    deadline = time.monotonic() + ARRIVAL_S
    while ordinal not in told and time.monotonic() < deadline:
        IONotificationPortDispatch(notify, deadline - time.monotonic())


def _power_calls(driver: io_service_t) -> list[tuple[str, int]]:
    return [(name, ordinal) for name, ordinal in
            IORegistryEntryCreateCFProperty(driver, "PowerCalls") or []]


@contextmanager
def _calling_meanwhile(path: str) -> Iterator[list[bytes]]:
    """Another program's thread calls the driver (selector 2, an echo reversed) until the block ends."""
    calls: list[bytes] = []
    calling, stop = threading.Event(), threading.Event()

    def call() -> None:
        with MainPort(path) as port:
            connect = _connect(port)
            while not stop.is_set():
                calls.append(IOConnectCallStructMethod(connect, 2, b"echo", 64))
                calling.set()

    thread = threading.Thread(target=call)
    thread.start()
    try:
        assert calling.wait(ARRIVAL_S)
        yield calls
    finally:
        stop.set()
        thread.join(ARRIVAL_S)


# -- in one process: what a driver's thread touches, and a late send ----------------------
_TOLD = 0xE0005678


def _on_thread(work: Callable[[], object]) -> list[object]:
    """What ``work`` returned, run on a thread of its own (a driver's); [] when it raised."""
    returned: list[object] = []
    thread = threading.Thread(target=lambda: returned.append(work()))
    thread.start()
    thread.join()
    return returned


def _notes(session: Session, end: socket.socket) -> list[dict[str, Any]]:
    session.outbox.send(session.sock)
    end.settimeout(5)
    return FrameReader(MAX_KERNEL_FRAME).feed(end.recv(1 << 20))


def test_a_drivers_thread_leaves_the_outbox_to_the_loop(wired: Wired) -> None:
    """``message_clients`` and an async completion from a driver's thread queue nothing on the
    session (the loop's alone) until the loop runs its mail; then they arrive in order."""
    ctx, session, end, device = wired
    port = NotificationPort(session)
    (port.handle,) = add_handles(session, [port])
    ctx.notifications.add_interest(port, device, "IOGeneralInterest", 7)
    reference = _reference(ctx, session, port)
    assert _on_thread(lambda: device.message_clients(_TOLD, 1)) == [None]
    assert _on_thread(lambda: reference.deliver(0, (2,))) == [IOReturn.SUCCESS]
    assert not session.outbox.has_data() and ctx.notifications.mail.pending
    assert ctx.notifications.mail.run() == 2
    notes = _notes(session, end)
    assert [(n["kind"], n.get("argument", n.get("args"))) for n in notes] == [
        ("interest", 1), ("async", [2])]


def test_a_service_registered_on_a_drivers_thread_gets_its_handle_on_the_loop(
        wired: Wired) -> None:
    ctx, session, end, device = wired
    port = NotificationPort(session)
    (port.handle,) = add_handles(session, [port])
    ctx.notifications.add_matching(port, "publish", {"IOProviderClass": "IOService",
                                                                  "IONameMatch": "late-one"})
    nub = IOService(name="late-one")
    assert ctx.host.kernel.attach(nub, device)
    held = len(session.handles.objects)
    _on_thread(lambda: nub.register_service(SYNCHRONOUS))  # published on that thread
    assert len(session.handles.objects) == held  # the loop's table, untouched
    ctx.notifications.mail.run()
    assert [n["kind"] for n in _notes(session, end)] == ["matching"]
    assert len(session.handles.objects) == held + 1


def test_a_completion_after_the_kernel_stopped_is_a_dead_port(wired: Wired) -> None:
    """A driver's thread completing once the loop is gone (its mail closed) neither raises
    nor waits: the Mach send would fail, MACH_SEND_INVALID_DEST; a message is not sent."""
    ctx, session, _end, device = wired
    port = NotificationPort(session)
    (port.handle,) = add_handles(session, [port])
    ctx.notifications.add_interest(port, device, "IOGeneralInterest", 7)
    reference = _reference(ctx, session, port)
    ctx.notifications.mail.close()
    assert _on_thread(lambda: reference.deliver(0, ())) == [MACH_SEND_INVALID_DEST]
    assert _on_thread(lambda: device.message_clients(_TOLD, 1)) == [None]
    assert not session.outbox.has_data()


def _reference(ctx: KernelContext, session: Session, port: NotificationPort
               ) -> OSAsyncReference64:
    reference = _async_reference(ctx, session, Args({"port": port.handle, "reference": [5]}))
    assert reference is not None
    return reference


# -- the mail itself ---------------------------------------------------------------------
class _Port:
    def __init__(self) -> None:
        self.count = 0

    def dropped(self, count: int) -> None:
        self.count += count


def test_the_loop_is_woken_once_per_batch_and_runs_it_in_order() -> None:
    mail, port, ran, woken = LoopMail(), _Port(), [], []
    mail.attach(lambda: woken.append(1))
    for n in range(3):
        assert mail.post(lambda n=n: ran.append(n), port)  # type: ignore[misc]
    assert woken == [1] and mail.pending
    assert mail.run() == 3 and ran == [0, 1, 2] and not mail.pending
    assert mail.post(lambda: None, port) and woken == [1, 1]


def test_a_round_runs_a_share_of_a_flood_and_leaves_the_rest_pending_in_order() -> None:
    """A driver's threads that filled the mail do not hold the loop (and every client) for
    all 65,536 at once: a round runs a share, and the loop, still pending, serves its
    clients before the next."""
    mail, port, ran, woken = LoopMail(), _Port(), [], []
    mail.attach(lambda: woken.append(1))
    for n in range(5):
        mail.post(lambda n=n: ran.append(n), port)  # type: ignore[misc]
    assert mail.run(2) == 2 and ran == [0, 1] and mail.pending
    mail.post(lambda: ran.append(5), port)  # still pending: no second wake is needed
    assert woken == [1]
    assert mail.run(2) == 2 and mail.run(2) == 2 and ran == list(range(6))
    assert not mail.pending and mail.run(2) == 0


def test_past_its_bound_and_on_failure_a_notification_is_dropped_and_counted() -> None:
    mail, port, ran = LoopMail(limit=2), _Port(), []

    def fails() -> None:
        raise OverflowError("no wire form")

    assert mail.post(fails, port) and mail.post(lambda: ran.append(1), port)
    assert not mail.post(lambda: ran.append(2), port)
    mail.run()
    assert ran == [1] and port.count == 2


def test_a_job_queued_on_another_thread_wakes_the_work_loop() -> None:
    kernel = make_host([wifi_nub()], []).boot().kernel
    woken: list[int] = []
    kernel.wake_for_threads(lambda: woken.append(1))
    kernel.post(lambda: None)  # the loop's own thread: nothing to wake
    _on_thread(lambda: kernel.post(lambda: None))
    assert woken == [1] and kernel.run_until_quiet() == 2


def test_once_closed_a_post_is_refused_without_waking() -> None:
    mail, woken = LoopMail(), []
    mail.attach(lambda: woken.append(1))
    mail.close()
    assert not mail.post(lambda: None, _Port()) and mail.closed and woken == []


def test_waking_the_loop_is_no_stop_and_never_blocks_on_a_full_socket() -> None:
    signals = StopSignals()
    try:
        for _ in range(100_000):  # far past what the socket's buffer holds
            signals.wake_loop()
        assert not signals.requested
    finally:
        signals.close()
    signals.wake_loop()  # closed: nothing, no error
