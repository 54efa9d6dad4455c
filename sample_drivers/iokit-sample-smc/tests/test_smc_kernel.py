"""smc-read and smc-write against a running kernel, each from its own process (as ``smc``).

The kernel runs with an entitlement policy granting ``com.example.smc.write`` to root only;
tools run as this user, and (when the tests run as root) as another uid, which the kernel
refuses at the socket unless ``--group`` admits it, and then may read but not write.
"""

from __future__ import annotations

import grp
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from iokit_sample_smc.keys import fourcc
from iokit_sdk.iokitlib import (
    IOConnectCallAsyncStructMethod,
    IOConnectCallScalarMethod,
    IONotificationPortCreate,
    IONotificationPortDispatch,
    IOServiceClose,
    IOServiceGetMatchingService,
    IOServiceMatching,
    IOServiceOpen,
    MainPort,
    mach_task_self,
)
from iokit_sdk.returns import IOReturn
from kernel_fixture import Kernel

Start = Callable[..., Kernel]
OTHER_UID = 65534  # nobody


def _other_uid_can_run_python() -> bool:
    """Root, ``setpriv``, and an interpreter (and this kext) the other uid may read."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    probe = subprocess.run(["setpriv", f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}",
                            "--clear-groups", sys.executable, "-c", "import iokit_sdk.iokitlib"],
                           capture_output=True, cwd="/", timeout=60, check=False)
    return probe.returncode == 0


as_root = pytest.mark.skipif(not _other_uid_can_run_python(),
                             reason="running as another uid needs root, setpriv and an "
                                    "interpreter that uid may run")


def _policy(tmp_path: Path) -> str:
    path = tmp_path / "entitlements.toml"
    path.write_text('[entitlements."com.example.smc.write"]\nuids = [0]\n', encoding="utf-8")
    os.chmod(tmp_path, 0o755)
    os.chmod(path, 0o644)
    return str(path)


def test_read_and_write_keys_from_other_processes(start_kernel: Start, tmp_path: Path) -> None:
    kernel = start_kernel("--entitlements", _policy(tmp_path))
    read = kernel.tool("read", "TC0P")
    assert read.returncode == 0, read.stderr
    assert read.stdout.split()[:2] == ["TC0P", "[sp78]"]
    assert kernel.tool("read", "F0Mn").stdout.strip() == "F0Mn  [fpe2]  2000 (bytes 1f 40)"
    if os.geteuid() == 0:  # the policy grants root the write entitlement
        wrote = kernel.tool("write", "F0Mn", "0fa0")
        assert wrote.returncode == 0, wrote.stderr
        assert kernel.tool("read", "F0Mn").stdout.strip() == "F0Mn  [fpe2]  1000 (bytes 0f a0)"


def test_errors_are_one_clear_line(start_kernel: Start, tmp_path: Path) -> None:
    kernel = start_kernel()  # no policy: nobody may write
    unknown = kernel.tool("read", "ZZZZ")
    assert (unknown.returncode, unknown.stderr.strip()) == (
        1, "smc-read: no SMC key 'ZZZZ' (kIOReturnNotFound)")
    denied = kernel.tool("write", "F0Mn", "0fa0")
    assert denied.returncode == 1
    assert "kIOReturnNotPrivileged" in denied.stderr and "com.example.smc.write" in denied.stderr
    assert kernel.tool("read", "F0Mn").stdout.split()[2] == "2000"  # unchanged
    bad = kernel.tool("read", "TC0PX")
    assert bad.returncode == 2 and "four ASCII characters" in bad.stderr
    absent = kernel.tool("read", "TC0P", "--kernel", str(tmp_path / "none.sock"))
    assert absent.returncode == 3
    assert absent.stderr.startswith("smc-read: cannot use the iokit kernel: no iokit kernel at")
    assert "Traceback" not in unknown.stderr + denied.stderr + absent.stderr


def test_a_watcher_is_told_when_a_key_changes(start_kernel: Start, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the policy grants the write entitlement to root")
    kernel = start_kernel("--entitlements", _policy(tmp_path))
    with MainPort(kernel.path) as port:
        smc = IOServiceGetMatchingService(port, IOServiceMatching("AppleSMC"))
        connect = IOServiceOpen(smc, mach_task_self(), 0)
        assert IOConnectCallScalarMethod(connect, 2, [], 1)[0] >= 10  # the key count
        notify = IONotificationPortCreate(port)
        got: list[tuple[Any, int, tuple[int, ...]]] = []
        reference = [0, lambda refcon, result, args: got.append((refcon, result, args)), "F0Tg"]
        IOConnectCallAsyncStructMethod(connect, 3, notify, reference, b"F0Tg", 0)
        assert kernel.tool("write", "F0Tg", "1770").returncode == 0  # another process writes
        assert IONotificationPortDispatch(notify, 60.0) == 1
        assert got == [("F0Tg", IOReturn.SUCCESS, (fourcc("F0Tg"), 0x1770, 2))]
        IOServiceClose(connect)


def test_sigkill_of_a_client_leaves_no_user_client(start_kernel: Start) -> None:
    kernel = start_kernel()
    code = ("import sys\nfrom iokit_sdk.iokitlib import *\n"
            "s = IOServiceGetMatchingService(0, IOServiceMatching('AppleSMC'))\n"
            "c = IOServiceOpen(s, mach_task_self(), 0)\n"
            "print('opened', flush=True)\nsys.stdin.read()\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=kernel.env)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "opened"
        assert "AppleSMCClient" in kernel.ioreg("-c", "AppleSMCClient")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        child.kill()
        child.wait()
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()
    assert "AppleSMCClient" not in kernel.ioreg()
    assert kernel.proc.poll() is None  # the kernel lives on


# -- another uid ----------------------------------------------------------------------------
@as_root
def test_another_uid_is_refused_at_the_socket(start_kernel: Start, tmp_path: Path) -> None:
    kernel = start_kernel("--entitlements", _policy(tmp_path))
    os.chmod(kernel.directory, 0o711)
    closed = kernel.tool("read", "TC0P", as_user=OTHER_UID)
    assert closed.returncode == 3
    assert "Permission denied" in closed.stderr  # the socket is 0600, the kernel's own
    os.chmod(kernel.path, 0o666)  # a permissive path does not widen access
    refused = kernel.tool("read", "TC0P", as_user=OTHER_UID)
    assert refused.returncode == 3
    assert f"uid {OTHER_UID} is not the kernel's (uid 0)" in refused.stderr
    assert "kernel-peer-refused" in kernel.log.read_text()


@as_root
def test_a_group_member_may_read_but_not_write(start_kernel: Start, tmp_path: Path) -> None:
    group = grp.getgrgid(OTHER_UID).gr_name if _has_group(OTHER_UID) else str(OTHER_UID)
    kernel = start_kernel("--entitlements", _policy(tmp_path), "--group", group)
    os.chmod(kernel.directory, 0o711)
    read = kernel.tool("read", "F0Mx", as_user=OTHER_UID)
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "F0Mx  [fpe2]  6200 (bytes 60 e0)"
    denied = kernel.tool("write", "F0Mn", "0fa0", as_user=OTHER_UID)
    assert denied.returncode == 1
    assert denied.stderr.startswith("smc-write: not permitted to write SMC keys: "
                                    "kIOReturnNotPrivileged")
    assert kernel.tool("read", "F0Mn").stdout.split()[2] == "2000"


def _has_group(gid: int) -> bool:
    try:
        grp.getgrgid(gid)
    except KeyError:
        return False
    return True
