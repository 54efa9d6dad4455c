"""Driver processes end with their kernel, leave none of their buffers behind, and never
stay as zombies."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import DEXT, EXIT_WAIT_S, dexts, pid_alive

_HOST = textwrap.dedent(f"""
    import os, sys
    from iokit_host.host import IOKitHost
    from iokit_host.testing.kexts import kext_bundles
    from iokit_host.dext.manager import manager_for
    host = IOKitHost(kexts=kext_bundles([{str(DEXT)!r}])).boot()
    record = manager_for(host.kernel).servers["com.example.test.dext"]
    print(record.pid, record.process.memory_dir, flush=True)
    sys.stdin.read()  # until the test kills us
""")


def test_servers_exit_when_the_host_process_is_killed():
    with subprocess.Popen([sys.executable, "-c", _HOST], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as host:
        try:
            assert host.stdout is not None
            ready, _, _ = select.select([host.stdout], [], [], 60)
            assert ready, "the host printed no server pid"
            pid, memory_dir = host.stdout.readline().split()
            server = int(pid)
            watch = os.pidfd_open(server)
            host.kill()
            host.wait(EXIT_WAIT_S)
            # The server is the dead host's child (now init's): wait on its pidfd, bounded.
            assert select.select([watch], [], [], EXIT_WAIT_S)[0], "the server outlived its host"
            os.close(watch)
            assert not Path(memory_dir).exists()  # it took its buffers with it
        finally:
            if host.poll() is None:
                host.kill()


def test_a_stopped_server_is_reaped(dext_host):
    host = dext_host()
    pid = dexts(host).rows()[0].pid
    dexts(host).shutdown()
    assert not pid_alive(pid)
    assert not Path(f"/proc/{pid}").exists()  # reaped, not a zombie
    assert dexts(host).rows()[0].state == "stopped"


_UNRULY = textwrap.dedent("""
    import socket, sys
    from iokit_host.dext.channel import Channel
    channel = Channel(socket.socket(fileno=int(sys.argv[1])))
    while True:
        asked = channel.receive(None)
        seq = asked["seq"]
        for stray in range(seq * 1000 + 10, seq * 1000 + 510):  # calls never made
            channel.send({"seq": stray, "result": "stray"})
        channel.send({"seq": seq, "result": asked["n"]})
        channel.send({"seq": seq, "result": "again"})  # the same reply twice
""")


def test_replies_to_calls_nobody_waits_for_are_dropped_not_kept():
    """A driver process answering calls never made, or twice, had each reply kept by the
    kernel for ever (a process sending them grew it without bound)."""
    import socket

    from iokit_host.dext.channel import Channel
    from iokit_host.dext.process import DriverProcess

    ours, theirs = socket.socketpair()
    peer = subprocess.Popen([sys.executable, "-c", _UNRULY, str(theirs.fileno())],
                            pass_fds=[theirs.fileno()])
    theirs.close()
    process = DriverProcess("unruly", None)
    process.channel = Channel(ours)
    try:
        for n in range(1, 6):
            assert process.call({"op": "x", "n": n}, 30, "a call") == {"seq": n, "result": n}
        assert process._replies == {} and process._waiting == set()
    finally:
        peer.kill()
        peer.wait(EXIT_WAIT_S)
        process.channel.close()
        process._log.close()  # what stopping a process it launched closes


def test_a_path_entry_too_long_for_the_system_does_not_stop_servers(dext_host, monkeypatch):
    # Path.is_dir raised ENAMETOOLONG on such a sys.path entry (PYTHONPATH of 6,000
    # characters): every dext's probe raised OSError and none started.
    monkeypatch.setattr(sys, "path", [*sys.path, "/".join(["p" * 200] * 30)])
    host = dext_host()
    assert dexts(host).rows()[0].pid is not None
    assert not [d for d in host.diagnostics if d.reference == "driver-probe-raised"]
