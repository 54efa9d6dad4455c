"""A process a driver started that outlives ``iokit boot`` keeps a reader of the command's
output pipe (``iokit boot | cat``) waiting until it ends: the command names it when it ends.
Real ``iokit boot`` subprocesses over a real installed kext."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.cli.test_stray_errors import ID, MANIFEST
from tests.kext.dists import installed_kext

SOURCE = '''\
import subprocess

from iokit_sdk import IOService


class Stray(IOService):
    def start(self, provider):
        child = subprocess.Popen(["sleep", "60"]{redirect})
        with open({pid_file!r}, "w") as out:
            out.write(str(child.pid))
        return True
'''


def _boot(tmp_path: Path, machine: Path, redirect: str) -> tuple[str, str, int]:
    """``iokit boot`` with its output on pipes; what it wrote by the time it exited, and the
    pid of the driver's child (killed by the caller)."""
    pid_file = tmp_path / "child.pid"
    site = installed_kext(tmp_path / "site", "stray_kext", ID,
                          SOURCE.format(redirect=redirect, pid_file=str(pid_file)), MANIFEST)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "IOKIT_NO_CACHE": "1"}
    with subprocess.Popen([sys.executable, "-m", "iokit_host", "boot", "--machine",
                           str(machine)], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as command:
        assert command.stdout is not None and command.stderr is not None
        try:
            command.wait(120)  # it ends; its pipes stay open while the child lives
            child = int(pid_file.read_text())
            return _available(command.stdout.fileno()), _available(command.stderr.fileno()), \
                child
        finally:
            if command.poll() is None:
                command.kill()


def _available(fd: int) -> str:
    """What the pipe holds now, without waiting for its end."""
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    return b"".join(chunks).decode()


def test_a_driver_process_holding_the_output_pipe_is_named_when_the_command_ends(
        tmp_path: Path, wifi_machine: Path) -> None:
    out, err, child = _boot(tmp_path, wifi_machine, "")
    try:
        assert "+-o Stray" in out and "Traceback" not in err
        warning = next(line for line in err.splitlines()
                       if line.startswith("warning[driver-process-holds-output]"))
        assert warning == (f"warning[driver-process-holds-output]: process {child} (sleep 60), "
                           "started while the command ran, is still running and holds its "
                           "stdout and stderr: a reader of the output (iokit boot | cat) "
                           "waits until it ends")
        assert f"kill {child} to end the wait now" in err
    finally:
        os.kill(child, signal.SIGKILL)


def test_a_driver_process_with_output_of_its_own_is_not_named(
        tmp_path: Path, wifi_machine: Path) -> None:
    out, err, child = _boot(tmp_path, wifi_machine, ", stdout=subprocess.DEVNULL, "
                                                    "stderr=subprocess.DEVNULL")
    try:
        assert "+-o Stray" in out
        assert "driver-process-holds-output" not in err
    finally:
        os.kill(child, signal.SIGKILL)
