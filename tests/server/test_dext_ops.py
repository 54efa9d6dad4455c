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
from kernelkit import KernelFactory, KernelProcess

DEXT = Path(__file__).parents[1] / "dext" / "kext" / "iokit_test_dext"
WAIT_S = 10.0


@pytest.fixture
def dext_kernel(tmp_path: Path) -> Iterator[tuple[KernelFactory, KernelProcess]]:
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
    factory = KernelFactory(tmp_path)
    try:
        yield factory, factory.start()
    finally:
        factory.close()


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
