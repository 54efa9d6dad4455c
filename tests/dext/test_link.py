"""The driver process's end of its socket: requests into the kernel nest with the kernel's
calls, answers reach the thread that asked, and a gone kernel answers nobody for ever."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from iokit_host.dext.channel import Channel
from iokit_host.dext.link import NO_REPLY, NOT_ANSWERED, DriverLink

WAIT_S = 10.0


class Process:
    """A DriverLink serving on its own thread, like a driver process's main thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.link = DriverLink(Channel(sock), self.handle)
        self.asked: list[Any] = []
        self.thread = threading.Thread(target=self.link.serve)

    def handle(self, message: dict[str, Any]) -> dict[str, Any] | None:
        if message.get("op") == "exit":
            return None
        if message.get("ask"):  # a driver method that asks the kernel something
            self.asked.append(self.link.request({"kind": "power", "method": "get_power_state"}))
        return {"ok": True, "result": message.get("value"), "asked": list(self.asked)}


@pytest.fixture
def pair() -> Iterator[tuple[Channel, Process]]:
    ours, theirs = socket.socketpair()
    kernel, process = Channel(ours), Process(theirs)
    process.thread.start()
    yield kernel, process
    kernel.close()
    process.thread.join(WAIT_S)
    assert not process.thread.is_alive()
    process.link.channel.close()


def test_a_request_made_during_a_call_is_answered_after_a_nested_call(pair):
    kernel, _process = pair
    kernel.send({"op": "call", "seq": 1, "ask": True, "value": "outer"})
    request = kernel.receive(WAIT_S)
    assert (request["op"], request["method"]) == ("kcall", "get_power_state")
    # Before answering, the kernel calls in again: the process serves it while it waits.
    kernel.send({"op": "call", "seq": 2, "value": "nested"})
    nested = kernel.receive(WAIT_S)
    assert (nested["seq"], nested["result"]) == (2, "nested")
    kernel.send({"op": "answer", "seq": request["seq"], "result": 2})
    outer = kernel.receive(WAIT_S)
    assert (outer["seq"], outer["result"], outer["asked"]) == (1, "outer", [2])


def test_another_threads_request_is_answered_through_the_serving_thread(pair):
    kernel, process = pair
    got: list[Any] = []
    asker = threading.Thread(target=lambda: got.append(process.link.request(
        {"kind": "power", "method": "make_usable"})))
    asker.start()
    request = kernel.receive(WAIT_S)
    assert process.link.notify({"op": "async", "ref": 1, "result": 0, "args": []})
    assert kernel.receive(WAIT_S)["op"] == "async"
    kernel.send({"op": "answer", "seq": request["seq"], "result": 0})
    asker.join(WAIT_S)
    assert got == [0]


def test_a_gone_kernel_ends_serving_and_answers_waiting_threads_with_nothing(pair):
    kernel, process = pair
    got: list[Any] = []
    asker = threading.Thread(target=lambda: got.append(process.link.request(
        {"kind": "power", "method": "make_usable"})))
    asker.start()
    kernel.receive(WAIT_S)
    kernel.close()
    asker.join(WAIT_S)
    assert got == [NOT_ANSWERED]
    assert not process.link.notify({"op": "async"})


def test_an_answer_read_by_a_nested_request_reaches_the_outer_one(pair):
    """The outer request's answer arrives while a request nested in it (made by a call the
    kernel made meanwhile) waits: it is kept for the outer one, which is not left waiting."""
    kernel, _process = pair
    kernel.send({"op": "call", "seq": 1, "ask": True, "value": "outer"})
    outer_request = kernel.receive(WAIT_S)
    kernel.send({"op": "call", "seq": 2, "ask": True, "value": "inner"})
    inner_request = kernel.receive(WAIT_S)
    kernel.send({"op": "answer", "seq": outer_request["seq"], "result": 1})  # out of order
    kernel.send({"op": "answer", "seq": inner_request["seq"], "result": 2})
    assert kernel.receive(WAIT_S)["seq"] == 2
    outer = kernel.receive(WAIT_S)
    assert (outer["seq"], outer["result"], outer["asked"]) == (1, "outer", [2, 1])


def test_one_way_messages_get_no_reply_and_settled_runs_at_the_top_level():
    ours, theirs = socket.socketpair()
    kernel = Channel(ours)
    depths: list[int] = []

    def handle(message: dict[str, Any]) -> dict[str, Any] | None:
        if message.get("op") == "exit":
            return None
        if message.get("op") == "note":
            return NO_REPLY
        return {"ok": True}

    link = DriverLink(Channel(theirs), handle, lambda: depths.append(link.depth))
    thread = threading.Thread(target=link.serve)
    thread.start()
    kernel.send({"op": "note"})
    kernel.send({"op": "call", "seq": 7})
    assert kernel.receive(WAIT_S) == {"ok": True, "seq": 7}  # nothing for the note
    kernel.send({"op": "exit"})
    thread.join(WAIT_S)
    assert depths == [0, 0]
    kernel.close()
    link.channel.close()
