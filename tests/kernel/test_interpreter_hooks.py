"""What a driver call leaves installed in the interpreter: a trace or profile function, a
handler of the watchdog's or a timer's signal, a pending interval timer. Each is put back when
the call ends (a timer after the job), with a warning naming the driver, and the boot goes on.

The faulty kexts are real packages booted in this process, as tests/kernel/test_host_fence.py
boots its own; each test puts back what the old code left behind, so a failure cannot reach
the rest of the run (a SIGALRM handler that raises, a timer that ends the process)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hostkit import kext, make_host, personality, wifi_nub

from iokit_host.kernel import driver_calls
from iokit_host.kernel.driver_calls import DriverCalls, DriverFault
from iokit_host.kernel.interpreter_hooks import disarm_timers, pending_timers
from iokit_host.kernel.watchdog import Watchdog

NUB = "pci14e4,4331"

SOURCE = '''\
import signal
import sys

from iokit_sdk import IOService


def host_breaker(frame, event, arg):
    if event == "call" and "iokit_host" in frame.f_code.co_filename:
        raise RuntimeError("hooked the host")


def raise_on_signal(*args):
    raise ZeroDivisionError("from the driver's handler")


class Faulty(IOService):
    def start(self, provider):
        {body}
        return True
'''


@pytest.fixture()
def hooks_kept() -> Iterator[None]:
    """Put back whatever a failing test left installed."""
    trace, profile = sys.gettrace(), sys.getprofile()
    handlers = {number: signal.getsignal(number)
                for number in (signal.SIGUSR2, signal.SIGALRM, signal.SIGVTALRM, signal.SIGPIPE)}
    try:
        yield
    finally:
        for which in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
            signal.setitimer(which, 0)
        for number, handler in handlers.items():
            signal.signal(number, handler)
        sys.settrace(trace)
        sys.setprofile(profile)


def _boot_faulty(package_dir: Path, name: str, body: str) -> list[str]:
    """Boot a machine whose wifi nub a faulty kext (``body`` in its start) is matched on;
    the diagnostics the boot reported."""
    (package_dir / name).mkdir()
    (package_dir / name / "__init__.py").write_text(SOURCE.format(body=body))
    faulty = kext("com.test.hooked", {"f": personality("Faulty", score=9000)}, package=name)
    host = make_host([wifi_nub()], [faulty]).boot()
    assert [d.iokit_class_name for d in host.drivers_of(NUB)] == ["Faulty"]  # it started
    assert host.kernel.driver_calls.watchdog.stack == []
    return [str(d) for d in host.diagnostics]


def _keeper(frame: FrameType, event: str, arg: Any) -> None:
    """A debugger's or coverage's trace: it must survive the driver's."""


@pytest.mark.usefixtures("hooks_kept")
@pytest.mark.parametrize(("body", "what"), [
    ("sys.settrace(host_breaker)", "set a trace function (sys.settrace)"),
    ("sys.setprofile(host_breaker)", "set a profile function (sys.setprofile)"),
], ids=["settrace", "setprofile"])
def test_a_trace_or_profile_function_a_driver_leaves_is_put_back(
        package_dir: Path, body: str, what: str) -> None:
    """It raised in the host's next call: an internal error ended the boot."""
    sys.settrace(_keeper)
    try:
        (message,) = _boot_faulty(package_dir, "hooked_trace", body)
        assert sys.gettrace() is _keeper and sys.getprofile() is None
    finally:
        sys.settrace(None)
    assert message.startswith("warning[driver-changed-host]: driver code called for Faulty "
                              f"'Faulty' (com.test.hooked) on {NUB} {what}; put back")
    assert "hint: a kext shares the kernel's process and thread" in message


@pytest.mark.usefixtures("hooks_kept")
def test_a_signal_handler_a_driver_installs_is_put_back(package_dir: Path) -> None:
    """The watchdog's SIGUSR2 went to the driver for good, and no hung call was interrupted."""
    before = signal.getsignal(signal.SIGUSR2)
    (message,) = _boot_faulty(package_dir, "hooked_usr2",
                              "signal.signal(signal.SIGUSR2, raise_on_signal)")
    assert signal.getsignal(signal.SIGUSR2) is before
    assert "replaced the handler of SIGUSR2 (the watchdog's); put back" in message


@pytest.mark.usefixtures("hooks_kept")
def test_sigpipe_given_back_its_default_action_is_ignored_again(package_dir: Path) -> None:
    """``signal.signal(signal.SIGPIPE, signal.SIG_DFL)``, a command-line idiom, made the next
    write to a peer gone away (a client that left before its reply, a crashed driver process)
    end the running kernel silently, with status 141."""
    before = signal.getsignal(signal.SIGPIPE)
    (message,) = _boot_faulty(package_dir, "hooked_pipe",
                              "signal.signal(signal.SIGPIPE, signal.SIG_DFL)")
    assert signal.getsignal(signal.SIGPIPE) is before is signal.SIG_IGN
    assert message.startswith("warning[driver-changed-host]: driver code called for Faulty "
                              f"'Faulty' (com.test.hooked) on {NUB} replaced the handler of "
                              "SIGPIPE (ignored by the host: a peer gone away would have ended "
                              "the process); put back")


@pytest.mark.usefixtures("hooks_kept")
def test_a_timer_and_its_handler_a_driver_leaves_are_cancelled_and_put_back(
        package_dir: Path) -> None:
    """The handler raised in the host's code (an internal error); with it put back, the
    timer's SIGALRM ended the process ("Alarm clock")."""
    body = ("signal.signal(signal.SIGALRM, raise_on_signal)\n"
            "        signal.setitimer(signal.ITIMER_REAL, 100)")
    (message,) = _boot_faulty(package_dir, "hooked_alrm", body)
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert "Faulty 'Faulty' (com.test.hooked)" in message
    assert "left ITIMER_REAL pending (its SIGALRM would have ended the process), replaced " \
        "the handler of SIGALRM; put back" in message


@pytest.mark.usefixtures("hooks_kept")
def test_a_timer_armed_without_a_handler_is_cancelled_after_the_job(package_dir: Path) -> None:
    (message,) = _boot_faulty(package_dir, "hooked_timer",
                              "signal.setitimer(signal.ITIMER_VIRTUAL, 100)")
    assert signal.getitimer(signal.ITIMER_VIRTUAL) == (0.0, 0.0)
    assert message.startswith(f"warning[driver-changed-host]: driver code run while the "
                              f"kernel matched {NUB} left ITIMER_VIRTUAL pending")


@pytest.mark.usefixtures("hooks_kept")
def test_a_timer_pending_before_or_with_a_handler_of_its_own_is_left_alone() -> None:
    signal.setitimer(signal.ITIMER_VIRTUAL, 100)
    assert disarm_timers(keep=pending_timers()) == []
    signal.signal(signal.SIGVTALRM, lambda *args: None)
    assert disarm_timers() == []
    assert signal.getitimer(signal.ITIMER_VIRTUAL) != (0.0, 0.0)


@pytest.mark.usefixtures("hooks_kept")
def test_a_profile_function_that_raises_in_the_guard_itself_is_the_calls_fault() -> None:
    """It raised at the guard's first C call after the driver's returned: out of the guard,
    into the kernel's code."""
    calls = DriverCalls(Watchdog(None))

    def in_the_guard(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call" and frame.f_globals.get("__name__") == driver_calls.__name__:
            raise RuntimeError("in the guard")

    fault = calls.call(sys.setprofile, in_the_guard)
    assert sys.getprofile() is None
    assert isinstance(fault, DriverFault) and isinstance(fault.error, RuntimeError)
    assert calls.call(lambda: "next") == "next" and calls.watchdog.stack == []
