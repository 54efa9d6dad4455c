"""A running kernel notices a driver process dying while idle, relaunches it, lists it for
``iokit dext list --kernel``, and takes its servers with it when it stops."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kernelkit import KernelFactory, KernelProcess, kernel_env

DEXT = Path(__file__).parents[1] / "dext" / "kext" / "iokit_test_dext"
WAIT_S = 10.0


@pytest.fixture
def dext_kernel(tmp_path: Path) -> Iterator[tuple[KernelFactory, KernelProcess]]:
    factory = _dext_factory(tmp_path)
    try:
        yield factory, factory.start()
    finally:
        factory.close()


def _dext_factory(tmp_path: Path) -> KernelFactory:
    """Kernels with the test dext installed (as a distribution folder) in ``tmp_path``."""
    shutil.copytree(DEXT, tmp_path / DEXT.name)
    # The camera sample dext, when installed, bids for the same camera at the same score;
    # this copy outbids it so the kernel's server for it is the one that runs.
    plist = tmp_path / DEXT.name / "Info.plist"
    text = plist.read_text(encoding="utf-8")
    plist.write_text(text.replace("<key>idProduct</key>", "<key>IOProbeScore</key>"
                                  "<integer>1000</integer><key>idProduct</key>", 1),
                     encoding="utf-8")
    info = tmp_path / "iokit_test_dext-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: iokit-test-dext\n"
                                   "Version: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[iokit.kexts]\ncom.example.test.dext = iokit_test_dext\n", encoding="utf-8")
    return KernelFactory(tmp_path)


def _rows(kernel: KernelProcess) -> dict[str, dict[str, object]]:
    done = subprocess.run([sys.executable, "-m", "iokit_host", "dext", "list", "--json",
                           "--kernel", kernel.path], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return {r["server"]: r for r in json.loads(done.stdout)["extensions"]}


def _kill_and_wait(pid: int) -> None:
    watch = os.pidfd_open(pid)  # before the kill: the kernel may reap it at once
    try:
        os.kill(pid, signal.SIGKILL)
        assert select.select([watch], [], [], WAIT_S)[0], f"process {pid} did not exit"
    finally:
        os.close(watch)


def test_the_kernel_relaunches_a_killed_server_and_stops_its_servers_with_it(dext_kernel):
    factory, kernel = dext_kernel
    first = _rows(kernel)["com.example.test.dext"]
    assert first["state"] == "running" and first["version"] == "1.0"
    old = int(first["pid"])  # type: ignore[call-overload]
    _kill_and_wait(old)
    # The kernel's loop saw the socket close before it reads this request.
    again = _rows(kernel)["com.example.test.dext"]
    assert again["state"] == "running" and again["pid"] not in (None, old)
    assert (again["crashes_in_window"], again["launches"]) == (1, 2)
    assert "dext-client-crashed" in kernel.stderr()
    new = int(again["pid"])  # type: ignore[call-overload]
    watch = os.pidfd_open(new)
    try:
        factory.close()
        assert select.select([watch], [], [], WAIT_S)[0], "the server outlived its kernel"
    finally:
        os.close(watch)


# -- what crosses while a program uses the dext -------------------------------------------------
_APP = """
import sys
from iokit_sdk.iokitlib import *
from iokit_sdk.returns import IOReturnError
service = IOServiceGetMatchingService(0, IOServiceNameMatching("CameraDriver"))
connect = IOServiceOpen(service, mach_task_self(), 0)
notify = IONotificationPortCreate(0)
told = []
def arm(selector, scalar):
    IOConnectCallAsyncScalarMethod(connect, selector, notify,
                                   [0, lambda refcon, result, args: told.append(result), None],
                                   [scalar], 0)
def wait_told():
    while not told:
        IONotificationPortDispatch(notify, 60.0)
    return hex(told.pop(0))
"""


def _app(kernel: KernelProcess, code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _APP + code], capture_output=True, text=True,
                          env=dict(os.environ, IOKIT_KERNEL=kernel.path), timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_completion_a_driver_thread_sends_while_the_kernel_idles_reaches_the_program(
        dext_kernel):
    _, kernel = dext_kernel
    # Selector 4 fires from a timer thread after its call returned: the kernel is idle then,
    # and its watch on the driver process's socket delivers the completion.
    assert _app(kernel, "arm(2, 0)\nIOConnectCallScalarMethod(connect, 4, [], 0)\n"
                        "print(wait_told())\n") == ["0x0"]


def test_sigkill_mid_async_call_answers_not_responding_and_wakes_the_waiting(dext_kernel):
    _, kernel = dext_kernel
    old = int(_rows(kernel)["com.example.test.dext"]["pid"])  # type: ignore[call-overload]
    out = _app(kernel, "arm(2, 0)\ntry:\n    arm(5, 0)\nexcept IOReturnError as error:\n"
                       "    print(hex(error.code))\nprint(wait_told(), wait_told())\n")
    # The killed call: kIOReturnNotResponding; both references: kIOReturnAborted.
    assert out == ["0xe00002ed", "0xe00002eb", "0xe00002eb"]
    row = _rows(kernel)["com.example.test.dext"]
    assert row["state"] == "running" and row["pid"] not in (None, old)
    assert _app(kernel, "arm(2, 1)\nprint(wait_told())\n") == ["0x0"]  # the relaunched one


def test_sigkill_mid_a_power_change_the_dext_asked_for_relaunches_it(tmp_path):
    factory = _dext_factory(tmp_path)
    try:
        kernel = factory.start(env=kernel_env(tmp_path, IOKIT_TEST_DEXT_MODE="power-kill"))
        old = int(_rows(kernel)["com.example.test.dext"]["pid"])  # type: ignore[call-overload]
        # The driver asks for state 0 as the device; its set_power_state(0) kills it.
        assert _app(kernel, "print(*IOConnectCallScalarMethod(connect, 6, [1, 0], 1))") == ["0"]
        row = _rows(kernel)["com.example.test.dext"]
        assert row["state"] == "running" and row["pid"] not in (None, old)
        assert row["crashes_in_window"] == 1
        assert kernel.proc.poll() is None
    finally:
        factory.close()
