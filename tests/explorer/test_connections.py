"""The explorer's HTTP connections, bounded in number and in the time a request may take to
arrive (:mod:`iokit_host.explorer.connections`), against a real ``iokit kernel --http``."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from explorerkit import Explorer, ExplorerFactory

from iokit_host.explorer.connections import MAX_CONNECTIONS

_WAIT_S = 60.0  # a hang fails; an answer comes as soon as it is due


@pytest.fixture(scope="module")
def guarded(explorer_factory: ExplorerFactory) -> Explorer:
    return explorer_factory.start(env_extra={"IOKIT_HTTP_REQUEST_TIMEOUT": "0.3"})


def _connect(explorer: Explorer) -> socket.socket:
    parts = urlsplit(explorer.url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.settimeout(_WAIT_S)
    return sock


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the explorer sends until it closes the connection."""
    answer = b""
    while chunk := sock.recv(4096):
        answer += chunk
    return answer


def _get(explorer: Explorer, path: str) -> bytes:
    with _connect(explorer) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                     .encode())
        return _until_closed(sock)


def test_half_a_request_then_silence_is_answered_408_and_closed(guarded: Explorer) -> None:
    with _connect(guarded) as sock:
        sock.sendall(b"GET /api/meta HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        answer = _until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"did not arrive within 0.3 s" in answer
    assert _get(guarded, "/api/meta").startswith(b"HTTP/1.1 200 ")


def test_a_body_that_never_arrives_costs_only_its_connection(guarded: Explorer) -> None:
    with _connect(guarded) as sock:
        sock.sendall(b"POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        _until_closed(sock)  # closed, whatever it said first
    assert _get(guarded, "/api/meta").startswith(b"HTTP/1.1 200 ")


@pytest.fixture(scope="module")
def patient(explorer_factory: ExplorerFactory) -> Explorer:
    return explorer_factory.start(env_extra={"IOKIT_HTTP_REQUEST_TIMEOUT": "600"})


def test_connections_past_the_bound_are_refused_503(patient: Explorer) -> None:
    # As many connections as the explorer serves, sending nothing yet; the next one is
    # accepted after them (the backlog is taken in order), so it is the one past the bound.
    held = [_connect(patient) for _ in range(MAX_CONNECTIONS)]
    try:
        with _connect(patient) as sock:
            answer = _until_closed(sock)  # refused at once, before it sends anything
    finally:
        for sock in held:
            sock.close()
    assert answer.startswith(b"HTTP/1.1 503 "), answer
    assert f"at most {MAX_CONNECTIONS} connections".encode() in answer
    # Their room returns once the explorer has seen them go (it answers as soon as it has).
    while (answer := _get(patient, "/api/meta")).startswith(b"HTTP/1.1 503 "):
        pass
    assert answer.startswith(b"HTTP/1.1 200 "), answer

