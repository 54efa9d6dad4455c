"""A dext's shared memory: the buffer made in the driver process is the one a program maps
(the same bytes both ways), and it is released when the process dies."""

from __future__ import annotations

import mmap
import os
import signal
import socket
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk import IOReturn
from iokit_sdk.memory import MAX_BUFFER
from iokit_sdk.userclient import OwningTask

from iokit_host.dext.memory import DextMemory, MemoryGrants
from iokit_host.host import IOKitHost
from iokit_host.userclient.calls import CallRequest
from iokit_host.userclient.connections import Connection, UserClients

from .conftest import DEXT_ID, EXIT_WAIT_S, camera_driver, dexts

TASK = OwningTask(4242, 501, 20, "camera-app")


def _open(host: IOKitHost) -> tuple[UserClients, Connection]:
    clients = UserClients(host.kernel)
    connection = clients.open(camera_driver(host), TASK, 0)
    assert isinstance(connection, Connection)
    return clients, connection


def _map(memory: DextMemory) -> mmap.mmap:
    """What a program does with the kernel's answer (IOConnectMapMemory)."""
    assert memory.path is not None
    fd = os.open(memory.path, os.O_RDWR)
    try:
        return mmap.mmap(fd, memory.length)
    finally:
        os.close(fd)


def _fds_into(directory: str) -> set[str]:
    """This process's descriptors open on files in ``directory`` (``fd:target``)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(directory + "/"):
            found.add(f"{fd}:{target.removesuffix(' (deleted)')}")
    return found


def test_the_program_and_the_driver_process_see_the_same_bytes(dext_host):
    host = dext_host()
    clients, connection = _open(host)
    memory = clients.memory(connection, 0)
    assert isinstance(memory, DextMemory) and memory.length == 4096
    mapping = _map(memory)
    assert mapping[:10] == b"dext-frame"  # written by the driver process at start
    mapping[100:105] = b"hello"
    seen = clients.call(connection, CallRequest(8, (100, 5), structure_output_size=5))
    assert seen.structure == b"hello"  # the driver process reads what the program wrote
    clients.call(connection, CallRequest(9, (200,), b"from-dext"))
    assert mapping[200:209] == b"from-dext"  # and the program what the process wrote
    mapping.close()


def test_the_drivers_refusal_is_bad_argument_and_nothing_is_held_for_it(dext_host):
    """Whatever the driver refuses with, ``is_io_connect_map_memory_into_task`` answers
    ``kIOReturnBadArgument`` (no map)."""
    host = dext_host()
    clients, connection = _open(host)
    assert clients.memory(connection, 1) == IOReturn.BAD_ARGUMENT  # the driver's NoMemory
    assert clients.memory(connection, 7) == IOReturn.BAD_ARGUMENT  # its Unsupported
    assert len(dexts(host).upcalls.memory) == 0


def test_sigkill_with_memory_mapped_releases_it_and_the_device_is_driven_again(dext_host):
    host = dext_host()
    clients, connection = _open(host)
    memory = clients.memory(connection, 0)
    assert isinstance(memory, DextMemory)
    process = dexts(host).servers[DEXT_ID].process
    assert process is not None and process.memory_dir is not None
    directory = process.memory_dir
    held = _fds_into(directory)  # the kernel's (this test is the kernel's process)
    assert held
    mapping = _map(memory)  # the program's (mmap keeps a descriptor of its own)
    old = process.pid
    os.kill(old or 0, signal.SIGKILL)
    assert dexts(host).poll(EXIT_WAIT_S) == [DEXT_ID]
    host.kernel.run_until_quiet()
    assert memory.released and not held & _fds_into(directory)
    assert not Path(directory).exists()  # the process's buffers went with it
    assert mapping[:10] == b"dext-frame"  # a program's mapping stays valid, as in IOKit
    mapping.close()
    assert clients.memory(connection, 0) == IOReturn.BAD_ARGUMENT  # a later call: no client
    row = dexts(host).rows()[0]
    assert row.state == "running" and row.pid != old
    fresh = UserClients(host.kernel).open(camera_driver(host), TASK, 0)
    assert isinstance(fresh, Connection)
    assert isinstance(UserClients(host.kernel).memory(fresh, 0), DextMemory)


def test_sigkill_while_mapping_answers_not_responding_and_holds_nothing(dext_host):
    host = dext_host()
    clients, connection = _open(host)
    old = dexts(host).rows()[0].pid
    assert clients.memory(connection, 2) == IOReturn.NOT_RESPONDING
    assert len(dexts(host).upcalls.memory) == 0
    host.kernel.run_until_quiet()
    row = dexts(host).rows()[0]
    assert (row.state, row.crashes) == ("running", 1) and row.pid != old


def test_closing_the_client_releases_what_it_handed_out(dext_host):
    host = dext_host()
    clients, connection = _open(host)
    memory = clients.memory(connection, 0)
    assert isinstance(memory, DextMemory)
    clients.close(connection)
    host.kernel.run_until_quiet()
    assert memory.released and len(dexts(host).upcalls.memory) == 0


# -- what a driver process may pass ---------------------------------------------------------
class _Kernel:
    def __init__(self) -> None:
        self.reports: list[object] = []

    def report(self, diagnostic: object) -> None:
        self.reports.append(diagnostic)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_descriptor_that_is_not_a_big_enough_buffer_is_refused_and_closed(tmp_path):
    kernel = _Kernel()
    grants = MemoryGrants(kernel)  # type: ignore[arg-type]
    before = _open_fds()
    short = tmp_path / "short"
    short.write_bytes(b"x" * 10)
    left, right = socket.socketpair()
    cases = [(os.open(short, os.O_RDWR), 4096), (left.detach(), 16), (None, 16),
             (os.open(short, os.O_RDWR), -1)]
    for fd, claimed in cases:
        assert grants.adopt("s", object(), fd, claimed, str(tmp_path)) == IOReturn.BAD_ARGUMENT
    right.close()
    assert _open_fds() == before - 0  # every descriptor passed was closed
    reports = kernel.reports  # type: ignore[attr-defined]
    assert [d.reference for d in reports] == ["dext-bad-memory"] * 4


@settings(max_examples=100, deadline=None)
@given(claimed=st.one_of(st.none(), st.booleans(), st.text(max_size=3),
                         st.integers(-2**70, 2**70), st.floats(allow_nan=True)),
       size=st.integers(0, 8192))
def test_any_claimed_length_is_adopted_only_when_the_file_holds_it(tmp_path_factory, claimed,
                                                                    size):
    directory = tmp_path_factory.mktemp("mem")
    path = directory / "buffer"
    path.write_bytes(b"\0" * size)
    kernel = _Kernel()
    made = MemoryGrants(kernel).adopt(  # type: ignore[arg-type]
        "s", object(), os.open(path, os.O_RDWR), claimed, str(directory))
    fits = type(claimed) is int and 0 < claimed <= min(size, MAX_BUFFER)
    assert isinstance(made, DextMemory) == fits
    if isinstance(made, DextMemory):
        assert made.path == str(path) and not kernel.reports
        made.release()
    else:
        assert made == IOReturn.BAD_ARGUMENT and len(kernel.reports) == 1


def test_a_file_outside_the_process_directory_is_held_but_has_no_path_to_map(tmp_path):
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.write_bytes(b"\0" * 64)
    made = MemoryGrants(_Kernel()).adopt(  # type: ignore[arg-type]
        "s", object(), os.open(outside, os.O_RDWR), 64, str(inside))
    assert isinstance(made, DextMemory) and made.path is None
    made.release()
