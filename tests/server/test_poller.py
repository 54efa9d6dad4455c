"""The front end's wait: a peer that hung up is told apart from one that is only quiet."""

from __future__ import annotations

import selectors
import socket

from iokit_host.server.poller import HANGUP, Poller


def _events(poller: Poller, sock: socket.socket) -> int:
    ready = {key.fileobj: mask for key, mask in poller.select(0)}
    return ready.get(sock, 0)


def test_a_peer_that_sent_and_closed_is_reported_hung_up_with_its_data() -> None:
    kernel_end, program_end = socket.socketpair()
    with kernel_end, Poller() as poller:
        poller.register(kernel_end, selectors.EVENT_READ)
        program_end.sendall(b"last request")
        assert _events(poller, kernel_end) == selectors.EVENT_READ  # quiet, not gone
        program_end.close()
        events = _events(poller, kernel_end)
        assert events & selectors.EVENT_READ and events & HANGUP
        assert kernel_end.recv(64) == b"last request"  # what it sent is still there to read


def test_a_quiet_peer_is_not_reported_at_all() -> None:
    kernel_end, program_end = socket.socketpair()
    with kernel_end, program_end, Poller() as poller:
        poller.register(kernel_end, selectors.EVENT_READ)
        assert _events(poller, kernel_end) == 0
        poller.modify(kernel_end, selectors.EVENT_READ | selectors.EVENT_WRITE)
        assert _events(poller, kernel_end) == selectors.EVENT_WRITE  # writable, not hung up
