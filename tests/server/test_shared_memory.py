"""Shared memory across the socket: the memory travels as a descriptor (``SCM_RIGHTS``), so a
program of any uid the kernel admits maps it, and no file of the kernel's is open to others."""

from __future__ import annotations

import glob
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest
from iokit_sdk.iokitlib import (
    IOConnectCallScalarMethod,
    IOConnectMapMemory,
    IOReturnError,
    IOServiceGetMatchingService,
    IOServiceMatching,
    IOServiceOpen,
    MainPort,
    kIOMapAnywhere,
    mach_task_self,
)
from kernelkit import KernelFactory, KernelProcess, kernel_env

OTHER_UID = 65534  # nobody; its group (nogroup) is what --group admits

PEER = """
import os, sys
from iokit_sdk.iokitlib import *
service = IOServiceGetMatchingService(0, IOServiceMatching("TestUCDriver"))
connect = IOServiceOpen(service, mach_task_self(), 0)
mapping = IOConnectMapMemory(connect, 0, mach_task_self(), kIOMapAnywhere)
IOConnectCallScalarMethod(connect, 8, [300, 0x5C], 0)  # the driver writes in the kernel
mapping[301] = 0x3E  # the kernel's test reads this back
try:
    os.open(sys.argv[1], os.O_RDONLY)
    opened = "opened"
except PermissionError:
    opened = "denied"
print(os.getuid(), len(mapping), hex(mapping[300]), opened, flush=True)
"""


def _other_uid_can_run_python() -> bool:
    """Root, ``setpriv``, and an interpreter the other uid may run."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = subprocess.run(["setpriv", f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}",
                            "--clear-groups", sys.executable, "-c", "import iokit_sdk.iokitlib"],
                           capture_output=True, cwd="/", timeout=60, check=False)
    return probe.returncode == 0


def _memory_files(kernel: KernelProcess) -> list[str]:
    """The kernel's backing files (its private directory in the runtime or temp dir)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    parent = runtime if runtime and os.path.isdir(runtime) else tempfile.gettempdir()
    return glob.glob(os.path.join(parent, f"iokit-mem-{kernel.pid}-*", "mem-*"))


def test_the_reply_passes_a_descriptor_and_names_no_file(kernel: KernelProcess) -> None:
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        reply, fds = port.request_fds("map_memory", connect=int(connect), type=0)
        try:
            assert len(fds) == 1 and reply["size"] == 4096
            assert "path" not in reply
            IOConnectCallScalarMethod(connect, 8, [17, 0x42], 0)
            assert os.pread(fds[0], 1, 17) == b"\x42"  # the descriptor is the driver's page
        finally:
            for fd in fds:
                os.close(fd)
        with pytest.raises(IOReturnError, match="kIOReturnBadArgument"):
            IOConnectMapMemory(connect, 7, mach_task_self(), kIOMapAnywhere)


@pytest.mark.skipif(not _other_uid_can_run_python(),
                    reason="running as another uid needs root, setpriv and an interpreter "
                           "that uid may run")
def test_a_group_peer_of_another_uid_maps_memory_it_could_never_open(
        kernel_factory: KernelFactory) -> None:
    kernel = kernel_factory.start("--group", str(OTHER_UID))
    os.chmod(os.path.dirname(kernel.path), 0o755)  # the socket itself is 0660, group nogroup
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        mine = IOConnectMapMemory(connect, 0, mach_task_self(), kIOMapAnywhere)
        (backing,) = _memory_files(kernel)
        # Never world-readable: a private directory, a file for the kernel's user alone.
        assert stat.S_IMODE(os.stat(os.path.dirname(backing)).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(backing).st_mode) & 0o077 == 0
        peer = subprocess.run(
            ["setpriv", f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}", "--clear-groups",
             sys.executable, "-c", PEER, backing],
            capture_output=True, text=True, cwd="/", timeout=120, check=False,
            env={**os.environ, "IOKIT_KERNEL": kernel.path})
        assert peer.returncode == 0, peer.stderr
        # Another uid, the driver's byte seen, the kernel's file denied to it by name.
        assert peer.stdout.split() == [str(OTHER_UID), "4096", "0x5c", "denied"]
        assert mine[301] == 0x3E  # what it wrote is in the same memory as ours
        assert IOConnectCallScalarMethod(connect, 1, [], 1) == (0,)  # the kernel goes on


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc: a folder that no "
                    "uid, root included, may make a folder in")
def test_a_runtime_dir_that_cannot_hold_the_memory_falls_back_to_the_temp_dir(
        kernel_factory: KernelFactory) -> None:
    # XDG_RUNTIME_DIR left by another session (su, sudo -E) or gone read-only: the kernel
    # refused to start, 'file-error: /proc/iokit-mem-...', a path the user never gave.
    kernel = kernel_factory.start(env=kernel_env(kernel_factory.kext_dist,
                                                 XDG_RUNTIME_DIR="/proc"))
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        mapping = IOConnectMapMemory(connect, 0, mach_task_self(), kIOMapAnywhere)
        IOConnectCallScalarMethod(connect, 8, [5, 0x7A], 0)
        assert mapping[5] == 0x7A
    assert glob.glob(os.path.join(tempfile.gettempdir(), f"iokit-mem-{kernel.pid}-*"))


def test_a_drivers_faulty_buffer_fails_its_map_and_the_kernel_goes_on(
        kernel: KernelProcess) -> None:
    """The buffer a driver hands out is its object: one whose ``fileno`` raises SystemExit
    (read in the request handler, it stopped the kernel) or that claims more bytes than it
    holds fails that map with kIOReturnInternalError, named on the kernel's log; the kernel
    and the next map go on."""
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        for faulty in (2, 3):
            with pytest.raises(IOReturnError, match="kIOReturnInternalError"):
                IOConnectMapMemory(connect, faulty, mach_task_self(), kIOMapAnywhere)
        assert len(IOConnectMapMemory(connect, 0, mach_task_self(), kIOMapAnywhere)) == 4096
    log = kernel.stderr()
    assert "user-client-memory-raised" in log and "SystemExit: the buffer's fileno" in log
    assert "user-client-memory-invalid" in log and "TestUserClient" in log
