"""The driver-call watchdog: hung calls abandoned on driven time, in and out of the main thread,
nested calls, swallowed interruptions, the signal handler given back, the real path end to end."""

from __future__ import annotations

import faulthandler
import os
import plistlib
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from iokit_host.kernel.driver_calls import DriverCalls, DriverFault
from iokit_host.kernel.watchdog import (
    WATCHDOG_SIGNAL,
    DrivenTime,
    DriverCallTimeout,
    Watchdog,
)


def _calls(limit_s: float = 5.0) -> tuple[DriverCalls, DrivenTime]:
    clock = DrivenTime()
    return DriverCalls(Watchdog(limit_s, clock=clock)), clock


def _hang(clock: DrivenTime) -> None:
    while True:
        clock.advance(0.01)


@pytest.mark.parametrize("armed", [False, True], ids=["async-exception", "signal"])
def test_a_hung_call_is_abandoned_after_the_limit_of_driven_time(armed: bool) -> None:
    calls, clock = _calls(5.0)
    with calls.watchdog.armed() if armed else _nothing():
        fault = calls.call(_hang, clock)
    assert isinstance(fault, DriverFault) and fault.timed_out
    assert fault.reason("start") == "start did not return within 5 s and was abandoned"
    assert clock.now() >= 5.0
    assert calls.call(lambda: "next") == "next"  # the next call is not interrupted


def test_a_hung_call_off_the_main_thread_is_abandoned_too() -> None:
    calls, clock = _calls()
    found: list[Any] = []
    worker = threading.Thread(target=lambda: found.append(calls.call(_hang, clock)))
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    (fault,) = found
    assert isinstance(fault, DriverFault) and fault.timed_out


def test_a_call_that_swallows_the_interruption_is_interrupted_again_and_still_abandoned(
        ) -> None:
    calls, clock = _calls()
    swallowed = 0

    def stubborn() -> str:
        nonlocal swallowed
        while swallowed < 3:
            try:
                _hang(clock)
            except BaseException:  # noqa: BLE001 - the driver bug under test
                swallowed += 1
        return "done anyway"

    with calls.watchdog.armed():
        fault = calls.call(stubborn)
    assert swallowed == 3 and calls.watchdog.interruptions >= 3
    assert isinstance(fault, DriverFault) and fault.timed_out  # its result is ignored


def test_the_enclosing_call_that_hung_is_abandoned_not_the_inner_one() -> None:
    calls, clock = _calls()
    inner: list[Any] = []

    def outer() -> None:
        while True:  # a driver that keeps calling into other drivers
            inner.append(calls.call(clock.advance, 1.0))

    with calls.watchdog.armed():
        fault = calls.call(outer)
    assert isinstance(fault, DriverFault) and fault.timed_out
    assert inner and all(result is None for result in inner)  # no inner call took the blame


def test_a_driver_raising_the_timeout_itself_is_an_ordinary_failure() -> None:
    calls, _ = _calls()

    def forged() -> None:
        raise DriverCallTimeout("not from the watchdog")

    fault = calls.call(forged)
    assert isinstance(fault, DriverFault) and isinstance(fault.error, DriverCallTimeout)


def test_an_armed_period_gives_the_previous_signal_handler_back_and_chains_to_it() -> None:
    received: list[int] = []

    def previous(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    old = signal.signal(WATCHDOG_SIGNAL, previous)
    try:
        calls, _ = _calls()
        with calls.watchdog.armed():
            assert calls.call(signal.getsignal, WATCHDOG_SIGNAL) != previous  # installed
            calls.call(signal.raise_signal, WATCHDOG_SIGNAL)  # not the watchdog's own
        assert received == [WATCHDOG_SIGNAL]
        assert signal.getsignal(WATCHDOG_SIGNAL) is previous
    finally:
        signal.signal(WATCHDOG_SIGNAL, old)


def _taking_the_signal(clock: DrivenTime, block: bool) -> str:
    """A driver that takes the watchdog's signal with a handler of its own (which returns),
    then hangs: in its own loop, or blocked in a sleep."""
    signal.signal(WATCHDOG_SIGNAL, lambda signum, frame: None)
    if block:
        time.sleep(10)  # interrupted at once: 10 s only where the fault is not fixed
    else:
        while clock.now() < 60.0:
            clock.advance(0.01)
            time.sleep(0)  # lets the watchdog's thread run: this loop ends otherwise first
    return "survived"


@pytest.mark.parametrize("block", [False, True], ids=["looping", "sleeping"])
def test_a_hung_call_that_took_the_watchdogs_signal_is_abandoned_all_the_same(
        block: bool) -> None:
    """The driver's handler got the watchdog's signal and nothing interrupted the call: a
    sleep ran its course (31 s at a limit of 0.5 s), a loop for ever."""
    calls, clock = _calls(5.0)
    done = threading.Event()

    def drive() -> None:  # the sleeping driver does not advance the clock itself
        while not done.is_set():
            clock.advance(0.05)

    driver = threading.Thread(target=drive, daemon=True)
    old = signal.getsignal(WATCHDOG_SIGNAL)
    try:
        if block:
            driver.start()
        with calls.watchdog.armed():
            fault = calls.call(_taking_the_signal, clock, block)
            assert signal.getsignal(WATCHDOG_SIGNAL) == calls.watchdog._on_signal  # put back
    finally:
        done.set()
        signal.signal(WATCHDOG_SIGNAL, old)
    assert isinstance(fault, DriverFault) and fault.timed_out
    (said,) = calls.reported
    assert said.reference == "driver-changed-host" and said.severity.value == "warning"
    assert "replaced the handler of SIGUSR2 (the watchdog's); put back" in said.message


def _registering_faulthandler(clock: DrivenTime, dump: Any) -> None:
    faulthandler.register(WATCHDOG_SIGNAL, file=dump)
    _hang(clock)


def test_a_hung_call_that_gave_the_watchdogs_signal_to_faulthandler_is_abandoned(
        tmp_path: Path) -> None:
    """``faulthandler.register(SIGUSR2)`` takes the signal below Python, where no handler read
    sees it: each of the watchdog's signals dumped the tracebacks of every thread on stderr
    and the call went on for ever. It is given back when the signal is sent."""
    calls, clock = _calls(5.0)
    with (tmp_path / "dump").open("w") as dump:
        try:
            with calls.watchdog.armed():
                fault = calls.call(_registering_faulthandler, clock, dump)
        finally:
            faulthandler.unregister(WATCHDOG_SIGNAL)
    assert isinstance(fault, DriverFault) and fault.timed_out
    assert (tmp_path / "dump").read_text() == ""  # no tracebacks


def test_a_closed_or_unlimited_watchdog_guards_without_watching() -> None:
    calls = DriverCalls(Watchdog(None))
    assert calls.call(lambda: 1) == 1
    assert isinstance(calls.call(sys.exit, 4), DriverFault)
    watched, _ = _calls()
    watched.watchdog.close()
    assert watched.call(lambda: 2) == 2


@pytest.mark.parametrize(("value", "limit", "warned"), [
    (None, 10.0, False), ("0.5", 0.5, False), ("0", None, False), ("inf", None, False),
    ("soon", 10.0, True), ("-1", 10.0, True), ("nan", 10.0, True),
])
def test_the_limit_comes_from_iokit_driver_timeout(
        monkeypatch: pytest.MonkeyPatch, value: str | None, limit: float | None,
        warned: bool) -> None:
    if value is None:
        monkeypatch.delenv("IOKIT_DRIVER_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("IOKIT_DRIVER_TIMEOUT", value)
    watchdog, problem = Watchdog.from_env()
    assert watchdog.limit_s == limit
    assert (problem is not None) == warned
    if problem is not None:
        assert problem.reference == "driver-timeout-invalid"
        assert problem.key == "IOKIT_DRIVER_TIMEOUT" and repr(value) in problem.message


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# -- the real path: `iokit boot` in a subprocess, a driver sleeping in start -------------------
HANGING_DRIVER = """\
import threading
import time

from iokit_sdk import IOService


class SleepyDriver(IOService):
    def start(self, provider):
        {wait}
        return True
"""
#: How the driver hangs: a sleep, or (once a hang for ever: threading is code the watchdog
#: must not cut short) a completion the hardware never signals.
HANGS = {"sleep": "time.sleep(3600)  # waits for hardware that never answers",
         "event": "threading.Event().wait()  # a completion that never comes"}
MACHINE = """\
[machine]
name = "one-card"
description = "one PCI card"

[[nub]]
id = "root"
class = "IOPlatformExpertDevice"
name = "TestMac"

[[nub]]
parent = "root"
class = "IOPCIDevice"
name = "pci1234,5678"
location = "0"
[nub.properties]
"vendor-id" = { data = "34120000" }
"""


def _install_sleepy_kext(site: Path, hang: str) -> None:
    """An installed distribution: the package, its Info.plist, dist-info with the entry point."""
    package = site / "sleepy_kext"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(HANGING_DRIVER.format(wait=HANGS[hang]))
    (package / "Info.plist").write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.example.sleepy", "CFBundleVersion": "1.0",
        "OSBundleLibraries": {"com.apple.kpi.iokit": "9.0"},
        "IOKitPersonalities": {"Sleepy": {
            "IOClass": "SleepyDriver", "IOProviderClass": "IOPCIDevice",
            "IOPCIMatch": "0x00001234&0x0000ffff", "IOProbeScore": 90000}}}))
    info = site / "sleepy_kext-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sleepy-kext\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[iokit.kexts]\ncom.example.sleepy = sleepy_kext\n")


@pytest.mark.parametrize("hang", list(HANGS))
def test_iokit_boot_abandons_a_driver_hanging_in_start_and_binds_the_next(
        tmp_path: Path, hang: str) -> None:
    _install_sleepy_kext(tmp_path / "site", hang)
    (tmp_path / "machine.toml").write_text(MACHINE)
    vendor = tmp_path / "Vendor.plist"
    vendor.write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.example.vendor", "CFBundleVersion": "1.0",
        "IOKitPersonalities": {"Vendor": {
            "IOClass": "VendorDriver", "IOProviderClass": "IOPCIDevice",
            "IOPCIMatch": "0x00001234&0x0000ffff", "IOProbeScore": 5000}}}))
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "IOKIT_DRIVER_TIMEOUT": "0.3",
           "IOKIT_CACHE_DIR": str(tmp_path / "cache")}
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "iokit_host", "boot", "--machine", str(tmp_path / "machine.toml"),
         "--kext", str(vendor)], env=env, capture_output=True, text=True, timeout=120,
        check=False)
    took = time.monotonic() - began
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stderr
    assert "error[driver-call-timeout]" in result.stderr
    assert "SleepyDriver (com.example.sleepy) on pci1234,5678: start did not return within " \
           "0.3 s and was abandoned" in result.stderr
    assert "+-o VendorDriver  <class VendorDriver" in result.stdout
    assert " drivers started, " in result.stdout.splitlines()[-1]  # the summary, last
    assert took < 60  # not the driver's hour


def test_a_tick_that_comes_while_the_signal_handler_runs_does_not_nest_it() -> None:
    """On a loaded machine the watchdog's thread may signal again while the main thread's
    handler still runs (its own Python code has bytecode boundaries too): that signal is the
    running handler's to decide, not a new handler inside it, which nested once per tick
    until RecursionError while the main thread was in host code."""
    watchdog = Watchdog(5.0, clock=DrivenTime())
    nested: list[int] = []

    def in_fired_call() -> bool:
        if len(nested) < 5_000:  # each tick's signal handled inside the last handler
            nested.append(1)
            watchdog._signal_sent = True
            watchdog._on_signal(WATCHDOG_SIGNAL, None)
        return False

    watchdog._in_fired_call = in_fired_call  # type: ignore[method-assign]
    watchdog._signal_sent = True
    watchdog._on_signal(WATCHDOG_SIGNAL, None)
    assert nested == [1]
    assert not watchdog._handling  # and the next signal is handled again


def _host_function(name: str, source: str, **namespace: Any) -> Any:
    """A function whose code the watchdog takes for the host's (its module is iokit_host's)."""
    scope: dict[str, Any] = {"__name__": "iokit_host.test_host_code", **namespace}
    exec(compile(source, "<host code>", "exec"), scope)  # noqa: S102 - the test's own source
    return scope[name]


def test_a_signal_that_finds_host_code_running_leaves_it_alone_and_a_later_one_ends_the_call(
        ) -> None:
    """Most of this hung driver's time goes to host code it calls. A signal landing there must
    not raise into it (a registry half-changed); the handler once looked again by signalling
    itself, which ran inside the handler, nested, until RecursionError hit the host code.
    The watchdog thread signals again a moment later instead, until one lands in the
    driver's own code."""
    calls, clock = _calls(5.0)
    escaped: list[BaseException] = []
    host_work = _host_function("host_work", (
        "def host_work():\n"
        "    try:\n"
        "        total = 0\n"
        "        for i in range(20):\n"
        "            total += i\n"
        "    except BaseException as error:\n"
        "        escaped.append(error)\n"
        "        raise\n"), escaped=escaped)
    deadline = time.monotonic() + 60  # a bound for a broken watchdog, not a measure

    finished: list[bool] = []

    def driver() -> None:
        while time.monotonic() < deadline:
            clock.advance(0.01)
            host_work()
        finished.append(True)  # never interrupted in its own code

    try:
        with calls.watchdog.armed():
            fault = calls.call(driver)
    finally:
        calls.watchdog.close()
    assert isinstance(fault, DriverFault) and fault.limit_s == 5.0
    assert escaped == [] and finished == []


def test_a_signal_handled_in_host_code_returns_to_it_and_the_driver_gets_it_on_resuming(
        ) -> None:
    """The handler, called as Python calls it with a frame of host code, returns normally,
    the host's code runs to its end, and the timeout comes at the driver's next
    line after it; the thread's trace function is back as it was."""
    watchdog = Watchdog(5.0, clock=DrivenTime())
    outcome: list[str] = []
    host_code = _host_function(
        "host_code", "def host_code(deliver):\n"
                     "    deliver(sys._getframe())\n"
                     "    outcome.append('host returned')\n", sys=sys, outcome=outcome)

    def deliver(frame: FrameType) -> None:  # the signal, as Python delivers it there
        watchdog._signal_sent = True
        watchdog._on_signal(WATCHDOG_SIGNAL, frame)
        outcome.append("handler returned")

    def driver() -> None:
        host_code(deliver)
        outcome.append("driver went on")

    def debugger(frame: FrameType, event: str, arg: Any) -> None:  # a trace already on
        return None

    sys.settrace(debugger)
    try:
        with watchdog.armed():
            watchdog.prepare()  # the handler installed, as for the first call
            watchdog.owner, watchdog.fired = threading.get_ident(), 7
            watchdog.stack.append(7)
            with pytest.raises(DriverCallTimeout):
                driver()
            watchdog.stack.pop()
            assert watchdog.settle(7)
    finally:
        watchdog.close()
        trace_after = sys.gettrace()
        sys.settrace(None)
    assert outcome == ["handler returned", "host returned"]
    assert trace_after is debugger


_TRACED_AFTER_AN_ABANDONED_CALL = """
import sys
from iokit_host.kernel.driver_calls import DriverCalls
from iokit_host.kernel.watchdog import DrivenTime, Watchdog
clock = DrivenTime()
calls = DriverCalls(Watchdog(5.0, clock=clock))
def hang():
    while True:
        clock.advance(0.01)
fault = calls.call(hang)  # not armed: an asynchronous exception abandons it
calls.watchdog.close()
sys.settrace(lambda frame, event, arg: None)  # a debugger, coverage
def traced():
    return "traced"
print(type(fault).__name__, fault.limit_s, traced())
sys.settrace(None)
"""


def test_a_debugger_still_runs_after_the_watchdog_abandoned_a_call() -> None:
    """Withdrawing an undelivered asynchronous exception left CPython 3.11's pending flag
    up: the process ran every later bytecode check the slow way, and a trace function (pdb,
    coverage) set afterwards spun for ever at the next function's first instruction."""
    result = subprocess.run([sys.executable, "-c", _TRACED_AFTER_AN_ABANDONED_CALL],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["DriverFault", "5.0", "traced"]
