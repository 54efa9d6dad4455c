"""The explorer's log lines in a real ``iokit kernel --http``'s log: uvicorn's reports in the
kernel's own format, never its ``WARNING:  ...`` lines or a traceback."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from explorerkit import Explorer

DEADLINE_S = 30.0
LINE = "iokit explorer: warning: Invalid HTTP request received."


def test_a_request_that_is_no_http_is_logged_in_the_kernels_format(explorer: Explorer) -> None:
    """It was ``WARNING:  Invalid HTTP request received.``, unlike every other line there."""
    url = urlsplit(explorer.url)
    with socket.create_connection((url.hostname, url.port), timeout=DEADLINE_S) as sock:
        sock.sendall(b"\x16\x03\x01 not http\r\n\r\n")  # a TLS hello, say
        while sock.recv(4096):
            pass
    deadline = time.monotonic() + DEADLINE_S  # the log line is written by the server's thread
    while LINE not in explorer.stderr() and time.monotonic() < deadline:
        time.sleep(0.01)
    log = explorer.stderr()
    assert LINE in log
    assert "WARNING:" not in log and "Traceback" not in log
    assert explorer.get("/api/meta")[0] == 200
