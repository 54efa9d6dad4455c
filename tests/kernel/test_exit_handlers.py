"""Exit handlers a kext registers from its driver calls run when the command ends, as guarded
driver calls: one that exits, hangs or raises is one warning, never the command's exit status,
a hang or a traceback; one that works still does its work (tests/fencekit.py's kext)."""

from __future__ import annotations

import os
import select
import time
from pathlib import Path

from fencekit import boot_fenced, fenced_dist
from kernelkit import KernelFactory, kernel_env

__all__ = ["fenced_dist"]  # the fixture this module uses


def _warning(stderr: str) -> str:
    (line,) = [x for x in stderr.splitlines() if "exit handler" in x and "warning[" in x]
    return line


def test_an_exit_handler_that_calls_os_exit_does_not_set_the_commands_status(
        fenced_dist: Path) -> None:
    done = boot_fenced(fenced_dist, "atexit-exit")
    assert done.returncode == 0, done.stderr  # the driver's handler wanted 7
    assert "+-o FencedDriver" in done.stdout  # its start did nothing wrong
    assert _warning(done.stderr).startswith(
        "warning[driver-exited]: exit handler _register_exit_handler.<locals>.handler "
        "(registered by iokit_fenced._register_exit_handler) called os._exit(7), which would "
        "have ended the kernel's process")


def test_os_exit_registered_itself_is_named_with_the_driver_that_registered_it(
        fenced_dist: Path) -> None:
    """``atexit.register(os._exit, 3)``: the handler is the host's guard of ``os._exit``,
    and the warning named that (``_guarded_exit``), as if the host had registered it."""
    done = boot_fenced(fenced_dist, "atexit-os-exit")
    assert done.returncode == 0, done.stderr  # the driver's handler wanted 3
    assert _warning(done.stderr).startswith(
        "warning[driver-exited]: exit handler os._exit (registered by "
        "iokit_fenced._register_exit_handler) called os._exit(3), which would have ended the "
        "kernel's process")
    assert "_guarded_exit" not in done.stderr


def test_an_exit_handler_a_drivers_own_thread_registers_between_calls_is_held_too(
        fenced_dist: Path, tmp_path: Path) -> None:
    """In a running kernel, a driver's thread registers a handler long after its start."""
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    os.mkfifo(f"{fifo}.done")
    go = os.open(fifo, os.O_RDWR)  # opened both ways: neither side's open blocks
    done = os.open(f"{fifo}.done", os.O_RDWR)
    factory = KernelFactory(fenced_dist)
    try:
        kernel = factory.start(env=kernel_env(fenced_dist, IOKIT_TEST_FENCE_FILE=str(fifo),
                                              IOKIT_TEST_FENCE_FAULT="atexit-thread-exit"))
        os.write(go, b"go\n")
        assert select.select([done], [], [], 60)[0], kernel.stderr()
        assert os.read(done, 64) == b"registered\n"
        assert kernel.stop() == 0, kernel.stderr()  # the handler wanted 7
        assert "called os._exit(7)" in _warning(kernel.stderr())
    finally:
        factory.close()
        os.close(go)
        os.close(done)


def test_an_exit_handler_that_hangs_is_abandoned_at_the_watchdogs_limit(
        fenced_dist: Path) -> None:
    started = time.monotonic()
    done = boot_fenced(fenced_dist, "atexit-sleep", IOKIT_DRIVER_TIMEOUT="1")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 60  # not the handler's hour
    line = _warning(done.stderr)
    assert line.startswith("warning[driver-call-timeout]: exit handler ")
    assert "did not return within 1 s and was abandoned" in line


def test_an_exit_handler_that_raises_is_one_warning_not_a_traceback(fenced_dist: Path) -> None:
    done = boot_fenced(fenced_dist, "atexit-raise")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "raised RuntimeError: no device to park" in _warning(done.stderr)


def test_an_exit_handler_that_works_still_runs_and_an_unregistered_one_does_not(
        fenced_dist: Path, tmp_path: Path) -> None:
    written = tmp_path / "parked"
    done = boot_fenced(fenced_dist, "atexit-write", IOKIT_TEST_FENCE_FILE=str(written))
    assert done.returncode == 0 and "exit handler" not in done.stderr, done.stderr
    assert written.read_text(encoding="utf-8") == "parked"
    done = boot_fenced(fenced_dist, "atexit-unregistered")
    assert done.returncode == 0 and "exit handler" not in done.stderr, done.stderr


def test_an_exit_handler_that_registers_itself_again_runs_once(fenced_dist: Path,
                                                               tmp_path: Path) -> None:
    """As atexit runs only the handlers it held when the exit began."""
    written = tmp_path / "parked"
    done = boot_fenced(fenced_dist, "atexit-again", IOKIT_TEST_FENCE_FILE=str(written))
    assert done.returncode == 0 and "exit handler" not in done.stderr, done.stderr
    assert written.read_text(encoding="utf-8") == "parked"
