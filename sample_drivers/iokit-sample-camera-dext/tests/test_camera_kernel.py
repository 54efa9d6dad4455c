"""The camera dext on a running kernel, used by programs in processes of their own: three
processes (the kernel, the driver process, the programs) and what crosses between them.

A watcher maps the frame buffer and waits for "frame ready"; another program captures; the
watcher is told and reads the frame the driver process wrote, from its own mapping. When the
driver process is killed the watcher is woken with ``kIOReturnAborted``, its connection is
gone, and the relaunched driver process serves the next program.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "iokit_sample_camera_dext"
SERVER = "com.example.driver.CameraDext"
WAIT_S = 60.0

WATCHER = """
import struct, sys
from iokit_sdk.iokitlib import *
from iokit_sdk.iokitlib.memory import IOConnectMapMemory
from iokit_sdk.returns import IOReturnError
from iokit_sample_camera_dext import FRAME_BUFFER, FRAME_HEADER, SELECTOR_FRAMES, \\
    SELECTOR_WATCH_FRAMES

service = IOServiceGetMatchingService(0, IOServiceNameMatching("SampleCameraDext"))
connect = IOServiceOpen(service, mach_task_self(), 0)
frame = IOConnectMapMemory(connect, FRAME_BUFFER, mach_task_self())
notify = IONotificationPortCreate(0)
told = []
IOConnectCallAsyncScalarMethod(
    connect, SELECTOR_WATCH_FRAMES, notify,
    [0, lambda refcon, result, args: told.append((result, args)), None], [], 0)
print("watching", len(frame), flush=True)
for _ in range(2):
    while not told:
        IONotificationPortDispatch(notify, 60.0)
    result, args = told.pop(0)
    print("told", hex(result), *args, *FRAME_HEADER.unpack_from(frame), frame[8], flush=True)
try:
    IOConnectCallScalarMethod(connect, SELECTOR_FRAMES, [], 1)
except IOReturnError as error:
    print("then", hex(error.code), flush=True)
"""

CAPTURE = """
import sys
from iokit_sdk.iokitlib import *
from iokit_sdk.returns import IOReturnError
from iokit_sample_camera_dext import SELECTOR_CAPTURE, SELECTOR_FRAMES
service = IOServiceGetMatchingService(0, IOServiceNameMatching("SampleCameraDext"))
connect = IOServiceOpen(service, mach_task_self(), 0)
(frame,) = IOConnectCallScalarMethod(connect, SELECTOR_CAPTURE, [], 1)
try:  # an async call to an entry that does not allow it: refused by the dext's table
    IOConnectCallAsyncScalarMethod(connect, SELECTOR_FRAMES, IONotificationPortCreate(0), [],
                                   [], 1)
except IOReturnError as error:
    print("async refused", hex(error.code))
print("captured", frame, flush=True)
"""


def _installed() -> bool:
    return any(ep.value == "iokit_sample_camera_dext"
               for ep in importlib.metadata.entry_points(group="iokit.kexts"))


class Kernel:
    """``iokit kernel`` with the camera dext (a distribution folder when not installed)."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="cam", dir="/tmp")
        self.path = os.path.join(self.directory, "k.sock")
        self.env = dict(os.environ, IOKIT_NO_CACHE="1", IOKIT_KERNEL=self.path)
        if not _installed():
            root = Path(self.directory, "dist")
            shutil.copytree(PACKAGE, root / PACKAGE.name,
                            ignore=shutil.ignore_patterns("__pycache__"))
            info = root / "iokit_sample_camera_dext-1.0.0.dist-info"
            info.mkdir()
            (info / "METADATA").write_text("Metadata-Version: 2.1\nName: "
                                           "iokit-sample-camera-dext\nVersion: 1.0.0\n")
            (info / "entry_points.txt").write_text(
                f"[iokit.kexts]\n{SERVER} = iokit_sample_camera_dext\n")
            self.env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
        self.log = Path(self.directory, "kernel.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "iokit_host", "kernel", "--socket", self.path],
                stdout=subprocess.PIPE, stderr=log, env=self.env)
        assert self.proc.stdout is not None
        line = _read_line(self.proc.stdout.fileno(), WAIT_S)
        assert line.startswith("iokit kernel: listening on"), self.log.read_text()

    def run(self, code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=self.env, timeout=WAIT_S, check=False)

    def server(self) -> dict[str, object]:
        done = subprocess.run([sys.executable, "-m", "iokit_host", "dext", "list", "--json",
                               "--kernel", self.path], capture_output=True, text=True,
                              env=self.env, timeout=WAIT_S, check=False)
        assert done.returncode == 0, done.stderr
        (row,) = [r for r in json.loads(done.stdout)["extensions"] if r["server"] == SERVER]
        return dict(row)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def _read_line(fd: int, timeout_s: float) -> str:
    """One line from ``fd`` within ``timeout_s`` (waits on the descriptor, never a sleep)."""
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    deadline, data = time.monotonic() + timeout_s, b""
    try:
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return data.decode()
            chunk = os.read(fd, 1)
            if not chunk:
                return data.decode()
            data += chunk
    finally:
        selector.close()
    return data.decode().strip()


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    started = Kernel()
    try:
        yield started
    finally:
        started.close()


def test_a_watcher_sees_frames_in_shared_memory_and_is_woken_when_the_dext_dies(kernel):
    watcher = subprocess.Popen([sys.executable, "-c", WATCHER], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=kernel.env)
    try:
        assert watcher.stdout is not None
        out = watcher.stdout.fileno()
        assert _read_line(out, WAIT_S) == "watching 4096"
        captured = kernel.run(CAPTURE)
        assert captured.returncode == 0, captured.stderr
        # The dext's dispatch table refuses an async call to a sync entry (allow_async).
        assert captured.stdout.split("\n")[:2] == ["async refused 0xe00002c2", "captured 1"]
        # Told through the kernel; the frame read from the watcher's own mapping of the
        # buffer the driver process wrote: frame 1, exposure 100, first pixel 1 + 0.
        assert _read_line(out, WAIT_S) == "told 0x0 1 4096 1 100 1"
        pid = int(kernel.server()["pid"])  # type: ignore[call-overload]
        os.kill(pid, signal.SIGKILL)
        # kIOReturnAborted; the watcher's mapping still holds the last frame (a mapping
        # outlives the memory's owner, as in IOKit).
        assert _read_line(out, WAIT_S) == "told 0xe00002eb 1 100 1"
        then = _read_line(out, WAIT_S)
        assert then.startswith("then 0xe00002"), watcher.stderr.read() if watcher.stderr else ""
        assert watcher.wait(WAIT_S) == 0
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        for stream in (watcher.stdout, watcher.stderr):
            if stream is not None:
                stream.close()
    row = kernel.server()
    assert row["state"] == "running" and row["pid"] not in (None, pid)
    assert (row["crashes_in_window"], row["launches"]) == (1, 2)
    again = kernel.run(CAPTURE)  # the relaunched driver process: a fresh camera
    assert again.returncode == 0 and again.stdout.split("\n")[1] == "captured 1", again.stderr
    assert kernel.proc.poll() is None  # the kernel lives on
