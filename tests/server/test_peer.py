"""The peer's credentials come from the socket (SO_PEERCRED) and /proc, not from the client."""

from __future__ import annotations

import os
import socket

from iokit_host.server.peer import peer_of
from iokit_host.userclient.entitlements import EntitlementPolicy, Grant


def test_the_peer_is_this_process_with_its_groups_and_executable() -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        peer = peer_of(left)
    assert (peer.pid, peer.uid, peer.gid) == (os.getpid(), os.getuid(), os.getgid())
    assert peer.executable == os.readlink("/proc/self/exe")
    with open("/proc/self/comm", encoding="utf-8") as comm:
        assert peer.name == comm.read().strip()
    policy = EntitlementPolicy((Grant("com.example.mine", uids=frozenset({os.getuid()})),
                                Grant("com.example.other", uids=frozenset({os.getuid() + 1}))))
    task = peer.task(policy)
    assert task.entitlements == {"com.example.mine"}
    assert task.creator == f"pid {os.getpid()}, {peer.name}"
