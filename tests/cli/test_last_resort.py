"""How an ``iokit`` command ends when it does not return normally, seen from a real process:
a bug, Ctrl-C, a reader that leaves the pipe early, a usage error, a file that is not there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from iokit_host.cli import main
from iokit_host.cli.last_resort import lingering_threads

IOKIT = Path(sys.executable).with_name("iokit")
PROC = Path("/proc")


def iokit(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """The ``iokit`` console script as a user starts it, with stdout and stderr piped."""
    environ = {k: v for k, v in os.environ.items() if k != "IOKIT_DEBUG"} | (env or {})
    command = [str(IOKIT)] if IOKIT.exists() else [sys.executable, "-m", "iokit_host"]
    return subprocess.Popen([*command, *args], env=environ, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# A bug: an exception no command handles. It is injected the one way a bug can be, by
# breaking the code a command calls (here `iokit machine list`'s list of machines).
CRASHING = """
import sys
import iokit_host.cli.machine as machine
def broken():
    raise KeyError("the list of machines")
machine.list_machines = broken
from iokit_host.cli import run
sys.argv = ["iokit", "machine", "list"]
run()
"""


def _crash(debug: bool) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "IOKIT_DEBUG"}
    if debug:
        environ["IOKIT_DEBUG"] = "1"
    return subprocess.run([sys.executable, "-c", CRASHING], env=environ, text=True,
                          capture_output=True, check=False, timeout=120)


def test_a_bug_is_one_line_with_where_to_report_it_and_exit_2() -> None:
    done = _crash(debug=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    first, hint = done.stderr.splitlines()[:2]
    assert first == "iokit: internal error: KeyError: 'the list of machines'"
    assert "report it" in hint and "IOKIT_DEBUG=1" in hint


def test_iokit_debug_shows_the_traceback_of_a_bug() -> None:
    done = _crash(debug=True)
    assert done.returncode == 2
    assert "Traceback" in done.stderr and "in broken" in done.stderr
    assert "iokit: internal error: KeyError" in done.stderr


def test_a_sys_exit_deep_in_a_command_is_a_bug_not_a_silent_exit() -> None:
    done = subprocess.run([sys.executable, "-c", CRASHING.replace(
        'raise KeyError("the list of machines")', "sys.exit(3)")], text=True,
        capture_output=True, check=False, timeout=120)
    assert done.returncode == 2
    assert "iokit: internal error: SystemExit: 3" in done.stderr


# -- Ctrl-C ----------------------------------------------------------------------------------
def _big_machine(path: Path, nubs: int) -> Path:
    parts = [('[machine]\nname = "big"\n\n[[nub]]\nid = "root"\n'
              'class = "IOPlatformExpertDevice"\nname = "Big"\n')]
    parts += [f'[[nub]]\nparent = "root"\nclass = "IOPCIDevice"\nname = "pci{i}"\n'
              f'location = "{i:x}"\n' for i in range(nubs)]
    path.write_text("\n".join(parts))
    return path


def _cpu_seconds(pid: int) -> float:
    fields = (PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not (PROC / "self" / "stat").exists(), reason="needs Linux /proc")
def test_ctrl_c_while_booting_a_big_machine_exits_130_without_a_traceback(
        tmp_path: Path) -> None:
    machine = _big_machine(tmp_path / "big.toml", 50_000)  # about 8 s of CPU to boot
    process = iokit("boot", "--machine", str(machine), env={"IOKIT_CACHE_DIR": str(tmp_path)})
    # Interrupt once the command is surely running, past the imports (~0.1 s of CPU): the
    # process's own CPU time is the clock, so a loaded machine does not change the moment.
    while process.poll() is None and _cpu_seconds(process.pid) < 1.0:
        time.sleep(0.01)
    assert process.poll() is None, "the boot finished before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "iokit: interrupted"
    assert "Traceback" not in err


def test_ctrl_c_in_process_returns_130(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from iokit_host.cli import machine

    def interrupted() -> list[tuple[str, str]]:
        raise KeyboardInterrupt

    monkeypatch.setattr(machine, "list_machines", interrupted)
    assert main(["machine", "list"]) == 130
    assert capsys.readouterr().err == "iokit: interrupted\n"


# -- a reader that leaves early --------------------------------------------------------------
def test_a_closed_pipe_ends_the_command_quietly() -> None:
    # What `iokit ioreg -l | head -1` does to us, made certain: the reader is gone before
    # the first write (head may otherwise leave after the output fits the pipe).
    process = iokit("ioreg", "-l", "-w0")
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert err == ""


# -- usage errors and files ------------------------------------------------------------------
def test_usage_errors_are_argparse_s_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["machine"]) == 2
    assert "usage: iokit machine" in capsys.readouterr().err
    assert main(["boot", "--help"]) == 0
    assert "--machine" in capsys.readouterr().out


def test_a_bad_define_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kextstat", "--define", "NOVALUE"]) == 1
    err = capsys.readouterr().err
    assert "error[bad-define]" in err and "'NOVALUE'" in err and "internal error" not in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["machine", "list"], ["kextstat"], ["--version"],
                                  ["ioreg", "--help"], ["machine", "import", "--help"]])
def test_output_that_cannot_be_written_is_a_clear_error_not_a_bug(args: list[str]) -> None:
    # `iokit kextstat > /dev/full` (or a full disk) was reported as an internal error, and
    # a command's `--help` there exited 0: argparse drops the write error of its help.
    # Block-buffered, as a user's stdout is when not a terminal: under PYTHONUNBUFFERED the
    # write failed at once, but buffered the full disk was found at exit, a stray error.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "iokit_host", *args], stdout=full,
                              stderr=subprocess.PIPE, text=True, check=False, timeout=120,
                              env=env)
    assert done.returncode == 1, done.stderr
    assert "error[output-write-failed]: cannot write the output: No space left on device" \
        in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


class _HostileThread(threading.Thread):
    """A driver's thread whose accessors raise: the end-of-command check must still see it."""

    @property  # type: ignore[override]
    def name(self) -> str:
        raise RuntimeError("no name today")

    @name.setter
    def name(self, value: str) -> None:
        pass

    def is_alive(self) -> bool:
        raise RuntimeError("not telling")


def test_a_lingering_thread_is_found_whatever_its_class_overrides() -> None:
    release = threading.Event()
    thread = _HostileThread(target=release.wait)
    thread.start()
    try:
        found = lingering_threads()
    finally:
        release.set()
        threading.Thread.join(thread)
    assert len([name for name in found if name.startswith("Thread-")]) == 1
