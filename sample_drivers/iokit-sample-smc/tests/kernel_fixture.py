"""A running ``iokit kernel`` with this kext, for tests across a real process boundary.

The kext is loaded from where it is installed, or (run from a checkout where it is not) from a
distribution folder made for the test and put on ``PYTHONPATH``. Directories are world-readable
(0755, the socket's 0711) so that a process of another uid can run the tools: whether it may
talk to the kernel is then the kernel's decision (``SO_PEERCRED``, ``--group``), and the
socket's mode. The ready line is waited for, never a sleep.
"""

from __future__ import annotations

import importlib.metadata
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

READY = "iokit kernel: listening on "
PACKAGE = Path(__file__).resolve().parents[1] / "iokit_sample_smc"
TIMEOUT_S = 120.0


def _installed() -> bool:
    try:
        entry_points = importlib.metadata.entry_points(group="iokit.kexts")
    except Exception:  # noqa: BLE001 - a broken environment only means "not installed"
        return False
    return any(ep.value == "iokit_sample_smc" for ep in entry_points)


def kext_path(directory: str) -> str | None:
    """A folder holding the kext as a distribution, or None when it is installed."""
    if _installed():
        return None
    root = os.path.join(directory, "dist")
    shutil.copytree(PACKAGE, os.path.join(root, "iokit_sample_smc"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    info = Path(root, "iokit_sample_smc-1.0.0.dist-info")
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: iokit-sample-smc\n"
                                   "Version: 1.0.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[iokit.kexts]\ncom.example.driver.AppleSMC = iokit_sample_smc\n", encoding="utf-8")
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            os.chmod(os.path.join(folder, name), 0o755)
    return root


class Kernel:
    """``iokit kernel ARGS`` with the SMC kext, listening in a fresh directory."""

    def __init__(self, *args: str) -> None:
        self.directory = tempfile.mkdtemp(prefix="smc", dir="/tmp")
        os.chmod(self.directory, 0o755)
        self.path = os.path.join(self.directory, "k.sock")
        dist = kext_path(self.directory)
        self.env = dict(os.environ, IOKIT_NO_CACHE="1", IOKIT_KERNEL=self.path)
        if dist is not None:
            self.env["PYTHONPATH"] = os.pathsep.join(
                p for p in (dist, os.environ.get("PYTHONPATH")) if p)
        self.log = Path(self.directory, "kernel.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "iokit_host", "kernel", "--socket", self.path, *args],
                stdout=subprocess.PIPE, stderr=log, env=self.env)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline, data = time.monotonic() + TIMEOUT_S, b""
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                self.close()
                pytest.fail(f"no ready line from the kernel:\n{self.log.read_text()}")
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self.close()
                pytest.fail(f"the kernel exited:\n{self.log.read_text()}")
            data += chunk
        selector.close()
        assert data.decode().startswith(READY + self.path)

    def tool(self, name: str, *args: str,
             as_user: int | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``smc-read``/``smc-write`` (``name``: ``read``/``write``) in its own process,
        as uid and gid ``as_user`` with no other groups when given (``setpriv``, as root)."""
        command = [sys.executable, "-m", "iokit_sample_smc.tool", name, *args]
        if as_user is not None:
            command = ["setpriv", f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups",
                       *command]
        return subprocess.run(command, capture_output=True, text=True, env=self.env,
                              timeout=TIMEOUT_S, check=False, cwd=self.directory)

    def ioreg(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "iokit_host", "ioreg", "--kernel",
                               self.path, *args], capture_output=True, text=True,
                              env=self.env, timeout=TIMEOUT_S, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        shutil.rmtree(self.directory, ignore_errors=True)
