"""User clients across a real process boundary: Appendix B scenario 7, death, entitlements.

Every call here goes from this test process (or a child it starts) through the socket to an
``iokit kernel`` process, which runs the test kext (tests/server/kext) on the default machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from iokit_sdk.iokitlib import (
    IO_OBJECT_NULL,
    IOConnectCallAsyncScalarMethod,
    IOConnectCallMethod,
    IOConnectCallScalarMethod,
    IOConnectCallStructMethod,
    IOConnectMapMemory,
    IOConnectUnmapMemory,
    IONotificationPortCreate,
    IONotificationPortDispatch,
    IORegistryEntryCreateCFProperty,
    IORegistryEntryGetChildIterator,
    IOReturn,
    IOReturnError,
    IOServiceAddInterestNotification,
    IOServiceAddMatchingNotification,
    IOServiceClose,
    IOServiceGetMatchingService,
    IOServiceMatching,
    IOServiceNameMatching,
    IOServiceOpen,
    MainPort,
    io_object_t,
    kIOConnectMethodVarOutputSize,
    kIOFirstMatchNotification,
    kIOGeneralInterest,
    kIOMapAnywhere,
    kIOTerminatedNotification,
    mach_task_self,
)
from iokit_sdk.messages import kIOMessageServiceIsTerminated
from kernelkit import KernelFactory, KernelProcess, iokit

WRITE = "com.test.userclient.write"


@pytest.fixture
def port(kernel: KernelProcess) -> Iterator[MainPort]:
    with MainPort(kernel.path) as main_port:
        yield main_port


def _driver(port: MainPort) -> io_object_t:
    service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
    assert service != IO_OBJECT_NULL
    return service


def _user_clients(port: MainPort) -> list[str]:
    children = IORegistryEntryGetChildIterator(_driver(port), "IOService")
    return [IORegistryEntryCreateCFProperty(child, "IOUserClientCreator") for child in children]


# -- Appendix B scenario 7 ------------------------------------------------------------------
def test_scenario_7_scalar_out_count_must_equal_the_entry(port: MainPort) -> None:
    connect = IOServiceOpen(_driver(port), mach_task_self(), 0)
    with pytest.raises(IOReturnError) as raised:
        IOConnectCallScalarMethod(connect, 0, [7], 1)  # entry: scalar-in 1, scalar-out 0
    assert raised.value.code == IOReturn.BAD_ARGUMENT
    assert raised.value.name == "kIOReturnBadArgument"
    assert IOConnectCallScalarMethod(connect, 0, [7], 0) == ()
    assert IOConnectCallScalarMethod(connect, 1, [], 1) == (7,)
    IOServiceClose(connect)


def test_scenario_7_a_service_without_user_client_class_is_unsupported(port: MainPort) -> None:
    nub = IOServiceGetMatchingService(port, IOServiceNameMatching("APP0001"))
    with pytest.raises(IOReturnError) as raised:
        IOServiceOpen(nub, mach_task_self(), 0)
    assert raised.value.code == IOReturn.UNSUPPORTED
    assert raised.value.name == "kIOReturnUnsupported"


def test_scenario_7_a_2022_client_without_entitlements_is_not_privileged(port: MainPort) -> None:
    with pytest.raises(IOReturnError) as raised:
        IOServiceOpen(_driver(port), mach_task_self(), 1)
    assert raised.value.name == "kIOReturnNotPrivileged"
    assert _user_clients(port) == []  # the refused client left the registry


# -- the rest of §7 -------------------------------------------------------------------------
def test_calls_check_selectors_entitlements_and_report_driver_faults(port: MainPort) -> None:
    connect = IOServiceOpen(_driver(port), mach_task_self(), 0)
    assert IOConnectCallStructMethod(connect, 2, b"abc", kIOConnectMethodVarOutputSize) == b"cba"
    assert IOConnectCallMethod(connect, 3, [40, 2], b"", 1, 0) == ((42,), b"")
    expected = {99: "kIOReturnBadArgument",  # past the table
                5: "kIOReturnNotPrivileged",  # needs com.test.userclient.write
                6: "kIOReturnInternalError",  # the driver raises; the kernel goes on
                7: "kIOReturnNoCompletion"}  # no function
    for selector, name in expected.items():
        with pytest.raises(IOReturnError) as raised:
            IOConnectCallScalarMethod(connect, selector, [1] if selector == 5 else [], 0)
        assert raised.value.name == name, selector
    with pytest.raises(IOReturnError, match="MIG_ARRAY_TOO_LARGE"):
        IOConnectCallScalarMethod(connect, 1, list(range(17)), 1)  # 16 scalars at most (MIG)
    IOServiceClose(connect)


def test_the_user_client_is_a_child_with_its_creator_and_leaves_when_closed(
        port: MainPort) -> None:
    connect = IOServiceOpen(_driver(port), mach_task_self(), 0)
    with open(f"/proc/{os.getpid()}/comm", encoding="utf-8") as comm:
        name = comm.read().strip()
    assert _user_clients(port) == [f"pid {os.getpid()}, {name}"]
    IOServiceClose(connect)
    assert _user_clients(port) == []
    assert IORegistryEntryCreateCFProperty(_driver(port), "ClientEvents")[-1] == "client_close"


def test_a_second_open_of_an_exclusive_client_is_refused(port: MainPort) -> None:
    first = IOServiceOpen(_driver(port), mach_task_self(), 2)
    with pytest.raises(IOReturnError, match="kIOReturnExclusiveAccess"):
        IOServiceOpen(_driver(port), mach_task_self(), 2)
    IOServiceClose(first)
    IOServiceClose(IOServiceOpen(_driver(port), mach_task_self(), 2))


def test_async_results_arrive_on_the_notification_port(port: MainPort) -> None:
    connect = IOServiceOpen(_driver(port), mach_task_self(), 0)
    notify = IONotificationPortCreate(port)
    got: list[tuple[object, int, tuple[int, ...]]] = []
    reference = [0, lambda refcon, result, args: got.append((refcon, result, args)), "mine"]
    IOConnectCallAsyncScalarMethod(connect, 4, notify, reference, [], 0)
    with pytest.raises(IOReturnError, match="kIOReturnBadArgument"):  # not allow_async
        IOConnectCallAsyncScalarMethod(connect, 1, notify, [0], [], 1)
    with pytest.raises(IOReturnError, match="MIG_ARRAY_TOO_LARGE"):  # io_async_ref64_t: 8
        IOConnectCallAsyncScalarMethod(connect, 4, notify, [0] * 9, [], 0)
    IOConnectCallScalarMethod(connect, 0, [1234], 0)
    assert IONotificationPortDispatch(notify, 30.0) == 1
    assert got == [("mine", IOReturn.SUCCESS, (1234,))]
    IOServiceClose(connect)


# -- death ----------------------------------------------------------------------------------
def test_sigkill_of_a_client_leaves_no_user_client(kernel: KernelProcess, port: MainPort) -> None:
    code = ("import sys\nfrom iokit_sdk.iokitlib import *\n"
            "s = IOServiceGetMatchingService(0, IOServiceMatching('TestUCDriver'))\n"
            "c = IOServiceOpen(s, mach_task_self(), 0)\n"
            "IOServiceOpen(s, mach_task_self(), 2)\n"
            "print('opened', flush=True)\n"
            "while True:\n    IOConnectCallScalarMethod(c, 3, [1, 2], 1)\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "IOKIT_KERNEL": kernel.path})
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "opened"
        assert len(_user_clients(port)) == 2
        child.send_signal(signal.SIGKILL)  # mid-call, most likely
        child.wait(timeout=60)
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    # The kernel noticed when the socket closed; a round trip orders us after that.
    assert _user_clients(port) == []
    events = IORegistryEntryCreateCFProperty(_driver(port), "ClientEvents")
    assert events[-4:] == ["client_died", "client_close"] * 2


# -- notifications --------------------------------------------------------------------------
def test_matching_and_interest_notifications_follow_a_hot_plug(kernel_factory: KernelFactory,
                                                               tmp_path: Path) -> None:
    kernel = kernel_factory.start()
    with MainPort(kernel.path) as port:
        notify = IONotificationPortCreate(port)
        arrived: list[list[str]] = []
        gone: list[int] = []
        iterator = IOServiceAddMatchingNotification(
            notify, kIOFirstMatchNotification, IOServiceMatching("TestUCDriver"),
            lambda refcon, it: arrived.append([IORegistryEntryCreateCFProperty(o, "IOClass")
                                               for o in it]))
        assert len(list(iterator)) == 1  # the driver on SMC, there already
        IOServiceAddInterestNotification(notify, _driver(port), kIOGeneralInterest,
                                         lambda refcon, service, message, arg: gone.append(message))
        terminated = IOServiceAddMatchingNotification(
            notify, kIOTerminatedNotification, IOServiceMatching("TestUCDriver"),
            lambda refcon, it: arrived.append(["terminated", *(str(o) for o in it)]))
        assert list(terminated) == []
        scenario = tmp_path / "events.toml"
        scenario.write_text('[[event]]\naction = "plug"\nparent = "AppleACPIPlatformExpert"\n'
                            '[event.nub]\nclass = "IOACPIPlatformDevice"\nname = "SMC2"\n'
                            '[event.nub.properties]\n"name" = { data = "41505030303031" }\n'
                            '[[event]]\naction = "unplug"\npath = "SMC"\n', encoding="utf-8")
        assert iokit("event", str(scenario), "--kernel", kernel.path).returncode == 0
        while IONotificationPortDispatch(notify, 5.0):
            if len(arrived) >= 2 and gone:
                break
        assert arrived[0] == ["TestUCDriver"]
        assert arrived[1][0] == "terminated"
        assert gone == [kIOMessageServiceIsTerminated]


# -- entitlements from the operator's policy ------------------------------------------------
def test_entitlements_come_from_the_policy_not_the_client(kernel_factory: KernelFactory,
                                                          tmp_path: Path) -> None:
    policy = tmp_path / "entitlements.toml"
    policy.write_text(f'[entitlements."{WRITE}"]\ngids = [4242]\n'
                      f'[entitlements."com.test.userclient.open"]\nuids = [{os.getuid()}]\n'
                      '[entitlements."broken"]\nuids = "everyone"\n', encoding="utf-8")
    kernel = kernel_factory.start("--entitlements", str(policy))
    assert "entitlements.broken.uids" in kernel.stderr()  # reported, grants nothing
    with MainPort(kernel.path) as port:
        IOServiceClose(IOServiceOpen(_driver(port), mach_task_self(), 3))  # uid grant
        connect = IOServiceOpen(_driver(port), mach_task_self(), 0)
        with pytest.raises(IOReturnError, match="kIOReturnNotPrivileged"):
            IOConnectCallScalarMethod(connect, 5, [1], 0)  # this process is not in gid 4242
        if os.geteuid() == 0:  # a child in group 4242 holds the entitlement
            code = ("from iokit_sdk.iokitlib import *\n"
                    "s = IOServiceGetMatchingService(0, IOServiceMatching('TestUCDriver'))\n"
                    "c = IOServiceOpen(s, mach_task_self(), 0)\n"
                    "print(IOConnectCallScalarMethod(c, 5, [99], 0))\n")
            child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   env={**os.environ, "IOKIT_KERNEL": kernel.path},
                                   extra_groups=[4242], timeout=60, check=False)
            assert child.stdout.strip() == "()", child.stderr
            assert IOConnectCallScalarMethod(connect, 1, [], 1) == (99,)


# -- shared memory --------------------------------------------------------------------------
def test_a_driver_s_writes_are_seen_in_the_program_s_mapping(port: MainPort) -> None:
    connect = IOServiceOpen(_driver(port), mach_task_self(), 0)
    mapping = IOConnectMapMemory(connect, 0, mach_task_self(), kIOMapAnywhere)
    assert len(mapping) == 4096
    IOConnectCallScalarMethod(connect, 8, [100, 0xAB], 0)  # the driver writes in the kernel
    assert mapping[100] == 0xAB
    mapping[200] = 0x5A  # and sees what the program writes: it writes it back one byte on
    IOConnectCallScalarMethod(connect, 8, [201, mapping[200] + 1], 0)
    assert mapping[201] == 0x5B
    with pytest.raises(IOReturnError, match="kIOReturnBadArgument"):
        IOConnectMapMemory(connect, 7, mach_task_self(), kIOMapAnywhere)  # not the driver's
    IOConnectUnmapMemory(connect, 0, mach_task_self(), mapping)
    IOServiceClose(connect)
