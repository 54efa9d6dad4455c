"""Power over the kernel: assertions, IORegisterForSystemPower and pmset, across processes.

A real ``iokit kernel`` runs; programs are other processes using IOKitLib (IOPMLib); the
``iokit pmset --kernel`` command runs in its own process too.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from iokit_sdk.iokitlib import (
    IOAllowPowerChange,
    IOCancelPowerChange,
    IODeregisterForSystemPower,
    IONotificationPortCreate,
    IONotificationPortDispatch,
    IOObjectGetClass,
    IOPMAssertionCreateWithName,
    IOPMAssertionRelease,
    IOPMCopyAssertionsByProcess,
    IOPMCopyAssertionsStatus,
    IOPMFindPowerManagement,
    IOPMSleepSystem,
    IORegisterForSystemPower,
    IORegistryEntryGetChildIterator,
    IOReturnError,
    IOServiceGetMatchingService,
    IOServiceMatching,
    MainPort,
    io_connect_t,
    kIOPMAssertionLevelOn,
    kIOPMAssertionTypePreventUserIdleSystemSleep,
)
from iokit_sdk.messages import (
    kIOMessageCanSystemSleep,
    kIOMessageSystemHasPoweredOn,
    kIOMessageSystemWillPowerOn,
    kIOMessageSystemWillSleep,
)
from kernelkit import (
    ANSWERING_PROGRAM,
    KernelFactory,
    KernelProcess,
    iokit,
    start_program,
    stop_program,
)

from iokit_host.server.power_ops import ASSERTIONS_PER_REPLY

PREVENT_IDLE = kIOPMAssertionTypePreventUserIdleSystemSleep

HOLDER = """
import sys
from iokit_sdk.iokitlib import *
IOPMAssertionCreateWithName(kIOPMAssertionTypePreventUserIdleSystemSleep, 255, "Playing music")
print("held", flush=True)
sys.stdin.read()
"""

SILENT = """
import sys
from iokit_sdk.iokitlib import *
from iokit_sdk.messages import kIOMessageSystemWillSleep
notify = IONotificationPortCreate(0)
asked = []
IORegisterForSystemPower(None, notify, lambda r, s, m, a: asked.append(m))
print("registered", flush=True)
while kIOMessageSystemWillSleep not in asked:
    IONotificationPortDispatch(notify, None)
print("asked", flush=True)  # and never answers
sys.stdin.read()
"""


@pytest.fixture
def kernel(kernel_factory: KernelFactory) -> KernelProcess:
    return kernel_factory.start()


@pytest.fixture
def port(kernel: KernelProcess) -> Iterator[MainPort]:
    with MainPort(kernel.path) as main_port:
        yield main_port


def _child(kernel: KernelProcess, code: str, ready: str) -> subprocess.Popen[str]:
    return start_program(kernel.path, code, ready)


_kill = stop_program


def _pmset(kernel: KernelProcess, *args: str) -> str:
    done = iokit("pmset", *args, "--kernel", kernel.path)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _asleep(kernel: KernelProcess) -> bool:
    """Whether the system slept: ``pmset -g log`` ends with ``Total Sleep/Wakes ...:N``."""
    total = _pmset(kernel, "-g", "log").rstrip().rsplit(":", 1)[1]
    return int(total) > 0


# -- assertions -----------------------------------------------------------------------------
def test_an_assertion_is_listed_by_its_process_and_released(port: MainPort,
                                                            kernel: KernelProcess) -> None:
    assertion = IOPMAssertionCreateWithName(PREVENT_IDLE, kIOPMAssertionLevelOn, "Backup",
                                            port)
    (mine,) = IOPMCopyAssertionsByProcess(port)[os.getpid()]
    assert (mine["AssertType"], mine["AssertName"], mine["GlobalUniqueID"]) == (
        PREVENT_IDLE, "Backup", assertion)
    assert IOPMCopyAssertionsStatus(port)[PREVENT_IDLE] == 1
    assert 'PreventUserIdleSystemSleep named: "Backup"' in _pmset(kernel, "-g", "assertions")
    IOPMAssertionRelease(assertion)
    assert IOPMCopyAssertionsByProcess(port) == {}
    with pytest.raises(IOReturnError, match="kIOReturnNotFound"):
        IOPMAssertionRelease(assertion)  # released already
    with pytest.raises(IOReturnError, match="kIOReturnBadArgument"):
        IOPMAssertionCreateWithName("PreventEverything", kIOPMAssertionLevelOn, "x", port)


def test_a_dead_process_s_assertions_are_released(port: MainPort, kernel: KernelProcess) -> None:
    child = _child(kernel, HOLDER, "held")
    try:
        assert "Playing music" in _pmset(kernel, "-g", "assertions")
        (theirs,) = IOPMCopyAssertionsByProcess(port)[child.pid]
        with pytest.raises(IOReturnError, match="kIOReturnNotFound"):  # not ours to release
            IOPMAssertionRelease(theirs["GlobalUniqueID"], port)
    finally:
        _kill(child)
    assert IOPMCopyAssertionsByProcess(port) == {}
    listing = _pmset(kernel, "-g", "assertions")
    assert "Playing music" not in listing and "PreventUserIdleSystemSleep     0" in listing


# -- IORegisterForSystemPower ---------------------------------------------------------------
class Listener:
    """A program's IORegisterForSystemPower callback that answers as told."""

    def __init__(self, port: MainPort, veto_idle: bool) -> None:
        self.notify = IONotificationPortCreate(port)
        self.veto_idle = veto_idle
        self.got: list[tuple[Any, int]] = []
        self.root_port: io_connect_t = IORegisterForSystemPower("refcon", self.notify,
                                                                self.callback)

    def callback(self, refcon: Any, service: object, message: int, argument: int) -> None:
        self.got.append((refcon, message))
        if message == kIOMessageCanSystemSleep and self.veto_idle:
            IOCancelPowerChange(self.root_port, argument)
        elif message in (kIOMessageCanSystemSleep, kIOMessageSystemWillSleep):
            IOAllowPowerChange(self.root_port, argument)

    def until(self, message: int) -> list[int]:
        while message not in [m for _, m in self.got]:
            assert IONotificationPortDispatch(self.notify, 60.0), self.got
        return [m for _, m in self.got]


def _request(port: MainPort, kind: str) -> Any:
    return port.call("tool.power", kind=kind)["result"]


def test_a_program_vetoes_idle_sleep_and_allows_a_demand_sleep(port: MainPort,
                                                               kernel: KernelProcess) -> None:
    listener = Listener(port, veto_idle=True)
    assert _root_domain_clients(port) == ["RootDomainUserClient"]  # the root domain's child
    assert _request(port, "idle") is None  # waits for the program's answer
    assert listener.until(kIOMessageSystemHasPoweredOn) == [
        kIOMessageCanSystemSleep, kIOMessageSystemWillPowerOn, kIOMessageSystemHasPoweredOn]
    assert not _asleep(kernel)
    assert "cancelled" in _pmset(kernel, "-g", "log")
    listener.got.clear()
    IOPMSleepSystem(IOPMFindPowerManagement(port))  # demand sleep: told, not asked
    assert listener.until(kIOMessageSystemWillSleep) == [kIOMessageSystemWillSleep]
    assert _asleep(kernel)
    assert listener.got[0][0] == "refcon"
    IODeregisterForSystemPower(listener.root_port)
    with pytest.raises(IOReturnError, match="kIOReturnBadArgument"):
        IOAllowPowerChange(IOPMFindPowerManagement(port), 12345)  # answers nothing asked


def test_a_program_that_dies_owing_an_answer_does_not_hold_sleep(port: MainPort,
                                                                kernel: KernelProcess) -> None:
    child = _child(kernel, SILENT, "registered")
    try:
        assert "Sleeping now..." in _pmset(kernel, "sleepnow")
        assert child.stdout is not None and child.stdout.readline().strip() == "asked"
        assert not _asleep(kernel)  # the sleep waits for the silent program's answer
    finally:
        _kill(child)
    assert _asleep(kernel)  # its death answered for it
    assert _root_domain_clients(port) == []
    assert "RootDomainUserClient" not in iokit("ioreg", "--kernel", kernel.path).stdout


def _root_domain_clients(port: MainPort) -> list[str]:
    root = IOServiceGetMatchingService(port, IOServiceMatching("IOPMrootDomain"))
    children = IORegistryEntryGetChildIterator(root, "IOService")
    return [IOObjectGetClass(c) for c in children if IOObjectGetClass(c) != "IORootParent"]



def test_a_scenario_sleep_waits_for_a_program_that_answers_and_goes_on_after_it(
        kernel: KernelProcess, tmp_path: Any) -> None:
    child = _child(kernel, ANSWERING_PROGRAM, "registered")
    scenario = tmp_path / "sleep.toml"
    scenario.write_text('[[event]]\naction = "sleep"\n\n[[event]]\naction = "wake"\n\n'
                        '[[event]]\naction = "advance"\nms = 5\n')
    try:
        done = iokit("event", str(scenario), "--kernel", kernel.path)
        assert child.stdout is not None
        told = child.stdout.readline().strip()
    finally:
        _kill(child)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # Every event applied, in order, the sleep once the program had answered.
    assert [line.split("] ", 1)[1] for line in lines] == [
        "sleep (Software Sleep): asleep", "wake (User Activity): awake",
        lines[2].split("] ", 1)[1]]
    assert lines[2].split("] ", 1)[1].startswith("advanced 5 ms")
    assert told == f"told {kIOMessageSystemWillSleep:#x}"
    log = _pmset(kernel, "-g", "log")
    assert "tardy" not in log and "timed out" not in log, log  # its answer counted
    assert _asleep(kernel)


def test_a_long_listing_comes_in_pages_and_every_assertion_is_in_it(
        port: MainPort, kernel: KernelProcess) -> None:
    """One request listing 262,144 assertions held every other client's requests back for
    1.7 s; a reply lists at most ASSERTIONS_PER_REPLY and IOPMLib asks on from the last."""
    count = ASSERTIONS_PER_REPLY * 2 + 5
    for i in range(count):
        IOPMAssertionCreateWithName(PREVENT_IDLE, kIOPMAssertionLevelOn, f"n{i}", port)
    first = port.call("pm_assertions")
    assert len(first["assertions"]) == ASSERTIONS_PER_REPLY and first["more"]
    assert port.call("pm_assertions", limit=0)["assertions"] == []
    listed = IOPMCopyAssertionsByProcess(port)[os.getpid()]
    assert [a["AssertName"] for a in listed] == [f"n{i}" for i in range(count)]
    assert f'named: "n{count - 1}"' in _pmset(kernel, "-g", "assertions")
    with pytest.raises(IOReturnError, match="kIOReturnBadArgument"):
        port.call("pm_assertions", limit=ASSERTIONS_PER_REPLY + 1)
