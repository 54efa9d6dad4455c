"""A command started with its standard output closed, or whose drivers leave threads running,
ends at once with a line saying so: no traceback, no process that never exits."""

from __future__ import annotations

import os
import subprocess
import sys

_CHILD_ENV = {**os.environ, "IOKIT_NO_CACHE": "1"}


def test_a_command_with_stdout_closed_says_so_and_fails() -> None:
    # `iokit ioreg -l >&-`: every command printed a traceback (sys.stdout is None).
    done = subprocess.run([sys.executable, "-m", "iokit_host", "machine", "list"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env=_CHILD_ENV, timeout=120, check=False,
                          preexec_fn=lambda: os.close(1))
    assert done.returncode == 1
    assert "error[output-write-failed]" in done.stderr and "standard output is closed" in \
        done.stderr
    assert "Traceback" not in done.stderr


def test_threads_left_running_do_not_keep_the_command_alive() -> None:
    code = ("import threading, time\n"
            "from iokit_host.cli.last_resort import end_despite_threads, lingering_threads\n"
            "threading.Thread(target=time.sleep, args=(3600,), name='driver-poller').start()\n"
            "end_despite_threads(3, lingering_threads())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 3  # the command's own status, not the thread's
    assert "warning[driver-thread-left-running]" in done.stderr and "driver-poller" in \
        done.stderr


def test_escape_codes_in_a_diagnostic_do_not_reach_a_terminal() -> None:
    """A name from the input, echoed in a diagnostic's file or key, set the terminal's title
    (`iokit explain $'\\e]0;PWNED\\a'`): on a terminal, stderr shows it escaped as stdout does."""
    import pty

    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "iokit_host", "explain", "\x1b]0;PWNED\a"],
                              stdout=subprocess.DEVNULL, stderr=follower, env=_CHILD_ENV,
                              timeout=120, check=False)
        os.close(follower)
        said = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end closed: all was read
                break
            if not chunk:
                break
            said += chunk
    finally:
        os.close(leader)
    assert done.returncode == 1 and b"service-not-found" in said
    assert b"\x1b" not in said and b"\\x1b]0;PWNED\\x07" in said
