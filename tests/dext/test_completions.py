"""Async calls into a dext: the reference crosses as a token, ``send_async_result`` in the
driver process reaches the caller's port through the kernel, and a process that dies leaves
no caller waiting for ever."""

from __future__ import annotations

import os
import signal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk import IOReturn
from iokit_sdk.returns import MACH_SEND_INVALID_DEST
from iokit_sdk.userclient import OSAsyncReference64, OwningTask, kMaxAsyncArgs

from iokit_host.dext.completions import MAX_REFERENCES_PER_CLIENT, Completions
from iokit_host.host import IOKitHost
from iokit_host.userclient.calls import CallRequest
from iokit_host.userclient.connections import Connection, UserClients

from .conftest import DEXT_ID, EXIT_WAIT_S, camera_driver, dexts

TASK = OwningTask(4242, 501, 20, "camera-app")


class Port:
    """A caller's notification port: what the kernel delivered to it."""

    def __init__(self) -> None:
        self.got: list[tuple[int, tuple[int, ...]]] = []
        self.gone = False

    def reference(self, *words: int) -> OSAsyncReference64:
        def deliver(result: int, values: tuple[int, ...]) -> int:
            if self.gone:
                return MACH_SEND_INVALID_DEST
            self.got.append((result, values))
            return IOReturn.SUCCESS
        return OSAsyncReference64(words or (1,), deliver)


def _open(host: IOKitHost) -> tuple[UserClients, Connection]:
    clients = UserClients(host.kernel)
    connection = clients.open(camera_driver(host), TASK, 0)
    assert isinstance(connection, Connection)
    return clients, connection


def test_a_completion_sent_during_the_call_and_later_ones_reach_the_callers_port(dext_host):
    host = dext_host()
    clients, connection = _open(host)
    pid = dexts(host).rows()[0].pid
    port = Port()
    armed = clients.call(connection, CallRequest(2, (1,), async_reference=port.reference(7)))
    assert armed.ret == IOReturn.SUCCESS
    assert port.got == [(IOReturn.SUCCESS, (pid, 1))]  # completed inside the call
    assert clients.call(connection, CallRequest(3)).ret == IOReturn.SUCCESS
    assert port.got[-1] == (IOReturn.SUCCESS, (pid, 2))  # the same reference, again


def test_a_driver_thread_completes_while_the_kernel_is_idle(dext_host):
    host = dext_host()
    clients, connection = _open(host)
    port = Port()
    clients.call(connection, CallRequest(2, (0,), async_reference=port.reference(7)))
    assert port.got == []
    assert clients.call(connection, CallRequest(4)).ret == IOReturn.SUCCESS  # fires on a thread
    while not port.got:  # the kernel's watch: bounded by the wait, never a sleep
        assert dexts(host).poll(EXIT_WAIT_S) == [], "the server died instead of completing"
    assert port.got == [(IOReturn.SUCCESS, (dexts(host).rows()[0].pid, 1))]


def test_a_refused_async_call_keeps_no_reference_and_a_kept_one_goes_with_its_client(
        dext_host):
    host = dext_host()
    clients, connection = _open(host)
    upcalls = dexts(host).upcalls
    assert clients.call(connection, CallRequest(2, (0,))).ret == IOReturn.BAD_ARGUMENT  # sync
    port = Port()
    refused = clients.call(connection, CallRequest(2, (2,), async_reference=port.reference(3)))
    assert refused.ret == IOReturn.BAD_ARGUMENT
    assert len(upcalls.completions) == 0
    kept = clients.call(connection, CallRequest(2, (0,), async_reference=port.reference(4)))
    assert kept.ret == IOReturn.SUCCESS and len(upcalls.completions) == 1
    clients.close(connection)
    host.kernel.run_until_quiet()
    assert len(upcalls.completions) == 0


def test_a_reference_past_kOSAsyncRef64Count_words_never_reaches_the_process(dext_host):
    host = dext_host()
    clients, connection = _open(host)
    port = Port()
    call = clients.call(connection, CallRequest(2, (1,), async_reference=port.reference(
        *range(1, 10))))
    assert call.ret == IOReturn.BAD_ARGUMENT
    assert port.got == [] and len(dexts(host).upcalls.completions) == 0


def test_sigkill_mid_async_call_answers_not_responding_and_aborts_what_waits(dext_host):
    host = dext_host()
    clients, connection = _open(host)
    waiting, killed = Port(), Port()
    clients.call(connection, CallRequest(2, (0,), async_reference=waiting.reference(1)))
    old = dexts(host).rows()[0].pid
    call = clients.call(connection, CallRequest(5, async_reference=killed.reference(2)))
    assert call.ret == IOReturn.NOT_RESPONDING
    # The reference lent before the crash was never completed: the caller is woken.
    assert waiting.got == [(IOReturn.ABORTED, ())]
    assert killed.got == [(IOReturn.ABORTED, ())]
    assert len(dexts(host).upcalls.completions) == 0
    host.kernel.run_until_quiet()
    row = dexts(host).rows()[0]
    assert (row.state, row.crashes) == ("running", 1) and row.pid != old
    assert camera_driver(host).get_property("DriverPid") == row.pid  # driven again
    assert clients.call(connection, CallRequest(3)).ret == IOReturn.BAD_ARGUMENT  # no client


def test_an_idle_server_killed_with_references_out_aborts_each_once(dext_host):
    host = dext_host()
    clients, connection = _open(host)
    watching, waiting = Port(), Port()
    clients.call(connection, CallRequest(2, (1,), async_reference=watching.reference(1)))
    clients.call(connection, CallRequest(2, (0,), async_reference=waiting.reference(2)))
    told = list(watching.got)
    os.kill(dexts(host).rows()[0].pid or 0, signal.SIGKILL)
    assert dexts(host).poll(EXIT_WAIT_S) == [DEXT_ID]
    host.kernel.run_until_quiet()
    # A watch already told of changes is woken too: it was waiting for the next one.
    assert watching.got == [*told, (IOReturn.ABORTED, ())]
    assert waiting.got == [(IOReturn.ABORTED, ())]


# -- the kernel's table, against what a process may send ------------------------------------
class _Kernel:
    def __init__(self) -> None:
        self.reports: list[Any] = []

    def report(self, diagnostic: Any) -> None:
        self.reports.append(diagnostic)


def test_a_client_lends_at_most_its_limit_and_the_same_words_reuse_their_token():
    kernel = _Kernel()
    table = Completions(kernel)  # type: ignore[arg-type]
    client, port = object(), Port()
    first = table.lend("s", client, port.reference(1))
    assert table.lend("s", client, port.reference(1)) == first
    for word in range(2, MAX_REFERENCES_PER_CLIENT + 1):
        assert table.lend("s", client, port.reference(word)) is not None
    assert table.lend("s", client, port.reference(0)) is None
    assert table.lend("s", object(), port.reference(0)) is not None  # another client's own
    table.forget_client(client)
    assert len(table) == 1


def test_a_completion_for_a_gone_caller_is_dropped_and_its_token_with_it():
    table = Completions(_Kernel())  # type: ignore[arg-type]
    port = Port()
    token = table.lend("s", object(), port.reference(1))
    port.gone = True
    table.complete("s", {"ref": token, "result": 0, "args": []})
    assert len(table) == 0


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["ref", "result", "args", "op", "x"]),
                       st.one_of(st.none(), st.integers(-2**70, 2**70), st.text(max_size=5),
                                 st.lists(st.integers(-2**70, 2**70), max_size=20),
                                 st.lists(st.text(max_size=2), max_size=3)), max_size=5),
       st.sampled_from(["s", "other"]))
def test_whatever_a_process_sends_is_delivered_checked_or_reported(message, server):
    kernel = _Kernel()
    table = Completions(kernel)  # type: ignore[arg-type]
    port = Port()
    table.lend("s", object(), port.reference(1))
    table.complete(server, message)
    assert all(d.reference == "dext-bad-async-result" for d in kernel.reports)
    if port.got:
        result, values = port.got[0]
        assert message["ref"] == 1 and server == "s" and 0 <= result <= 0xFFFFFFFF
        assert len(values) <= kMaxAsyncArgs and all(0 <= v < 2**64 for v in values)
    else:
        assert len(kernel.reports) == 1
