"""A test kext with user clients: IOKIT_SEMANTICS.md Appendix B scenario 7 and §7's rules.

``TestUCDriver`` drives the default machine's SMC nub (``IONameMatch`` ``APP0001``, as AppleSMC
does) and names ``TestUserClient`` in ``IOUserClientClass``; other connection types come from
its ``new_user_client`` override. Loaded by the kernel the tests start, from a distribution
folder the tests put on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from iokit_sdk import IOReturn, IOService
from iokit_sdk.memory import IOBufferMemoryDescriptor
from iokit_sdk.power import IOPMPowerState, kIOPMDeviceUsable, kIOPMPowerOn
from iokit_sdk.userclient import (
    DEFAULT_LOCKING,
    IOExternalMethodArguments,
    IOExternalMethodDispatch2022,
    IOUserClient,
    IOUserClient2022,
    OSAsyncReference64,
    kIOUCVariableStructureSize,
    kIOUserClientEntitlementsKey,
)

__all__ = ["EntitledOpenClient", "ExclusiveClient", "NoEntitlementsClient", "TestUCDriver",
           "TestUserClient"]

VAR = kIOUCVariableStructureSize
WRITE = "com.test.userclient.write"


class TestUCDriver(IOService):
    power_managed = False

    def start(self, provider: IOService) -> bool:
        self.value = 0
        self.watchers: list[tuple[IOUserClient, OSAsyncReference64]] = []
        self.register_service()
        return True

    def new_user_client(self, owning_task: Any, security_id: Any, type: int,
                        properties: Any) -> Any:
        if type == 0:
            return None  # the IOUserClientClass path
        factory = {1: NoEntitlementsClient, 2: ExclusiveClient, 3: EntitledOpenClient}
        return factory[type]() if type in factory else IOReturn.BAD_ARGUMENT

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        calls = list(self.get_property("PowerCalls", []))
        self.set_property("PowerCalls", [*calls, [threading.current_thread().name, ordinal]])
        self.message_clients(POWER_CHANGED, ordinal)
        return 0

    def shared_page(self) -> IOBufferMemoryDescriptor:
        page = getattr(self, "_page", None)
        if page is None:
            page = self._page = IOBufferMemoryDescriptor.with_capacity(4096)
        return page

    def set_value(self, value: int) -> None:
        self.value = value
        for client, reference in list(self.watchers):
            if client.is_inactive():
                self.watchers.remove((client, reference))
            else:
                client.send_async_result(reference, IOReturn.SUCCESS, [value])


def _driver(target: IOUserClient) -> TestUCDriver:
    provider = target.get_provider()
    assert isinstance(provider, TestUCDriver)
    return provider


def _set(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    _driver(target).set_value(args.scalar_input[0])
    return IOReturn.SUCCESS


def _get(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    args.scalar_output[0] = _driver(target).value
    return IOReturn.SUCCESS


def _echo(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    args.structure_output = bytes(reversed(args.structure_input))
    return IOReturn.SUCCESS


def _add(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    args.scalar_output[0] = args.scalar_input[0] + args.scalar_input[1]
    return IOReturn.SUCCESS


def _watch(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    assert args.async_reference is not None
    _driver(target).watchers.append((target, args.async_reference))
    return IOReturn.SUCCESS


def _poke(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    offset, value = args.scalar_input
    page = _driver(target).shared_page()
    return IOReturn.SUCCESS if page.write_bytes(offset, bytes([value & 0xFF])) else \
        IOReturn.BAD_ARGUMENT


def _sixteen(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    args.scalar_output[:] = range(16)
    return IOReturn.SUCCESS


def _raise(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    raise RuntimeError("the test driver fails on purpose")


#: The scalar selector 10 must be given to do its harm (a fuzzer's calls never give it).
UNPLUG = 0x57D_0FF_57D


def _unplug(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    """A faulty driver's method: it drops the process's standard streams, as a daemon
    might."""
    if args.scalar_input[0] == UNPLUG:
        sys.stdout = None  # type: ignore[assignment]
        sys.stderr = None  # type: ignore[assignment]
    return IOReturn.SUCCESS


def _from_threads(target: IOUserClient, reference: Any, args: IOExternalMethodArguments
                  ) -> int:
    """Complete the call from threads of the driver's own, as a timer or interrupt thread
    does: once the FIFO named by the structure input is written and closed, each of
    ``scalar_input[0]`` threads sends ``scalar_input[1]`` results ``[thread, n]`` in turn.
    What each send returned is written to the FIFO's path + ``.sent`` (one per line)."""
    assert args.async_reference is not None
    async_reference = args.async_reference
    path = os.fsdecode(args.structure_input)
    threads, each = args.scalar_input
    try:  # a fuzzer's call names no FIFO, and starts no thread
        if not stat.S_ISFIFO(os.stat(path).st_mode) or threads > 16 or each > 10_000:
            return IOReturn.BAD_ARGUMENT
    except (OSError, ValueError):
        return IOReturn.BAD_ARGUMENT

    def complete(index: int, sent: list[int]) -> None:
        for n in range(each):
            sent.append(target.send_async_result(async_reference, IOReturn.SUCCESS, [index, n]))

    def start() -> None:
        with open(path, "rb") as fifo:
            fifo.read()
        sent: list[int] = []
        workers = [threading.Thread(target=complete, args=(index, sent))
                   for index in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        with open(path + ".sent", "w", encoding="utf-8") as out:
            out.writelines(f"{code}\n" for code in sent)

    threading.Thread(target=start, name="test-driver-completions").start()
    return IOReturn.SUCCESS


def _publish_from_thread(target: IOUserClient, reference: Any,
                         args: IOExternalMethodArguments) -> int:
    """Once the FIFO named by the structure input is written and closed, a thread of the
    driver's own attaches a nub named ``ThreadNub`` to the driver and registers it."""
    path = os.fsdecode(args.structure_input)
    try:  # a fuzzer's call names no FIFO, and starts no thread
        if not stat.S_ISFIFO(os.stat(path).st_mode):
            return IOReturn.BAD_ARGUMENT
    except (OSError, ValueError):
        return IOReturn.BAD_ARGUMENT
    driver = _driver(target)

    def publish() -> None:
        with open(path, "rb") as fifo:
            fifo.read()
        nub = IOService(name="ThreadNub")
        if nub.attach(driver):
            nub.register_service()

    threading.Thread(target=publish, name="test-driver-publish").start()
    return IOReturn.SUCCESS


#: The driver's power states once selector 13 made it power managed: off, low, on.
_STATES = (IOPMPowerState(),
           IOPMPowerState(output_power_character=kIOPMPowerOn,
                          input_power_requirement=kIOPMPowerOn),
           IOPMPowerState(capability_flags=kIOPMPowerOn | kIOPMDeviceUsable,
                          output_power_character=kIOPMPowerOn,
                          input_power_requirement=kIOPMPowerOn))
#: What the driver tells its interested clients when it has moved to a state (the argument).
POWER_CHANGED = 0xE0009999


def _power_from_thread(target: IOUserClient, reference: Any,
                       args: IOExternalMethodArguments) -> int:
    """Make the driver power managed (once), then, once the FIFO named by the structure
    input is written and closed, a thread of the driver's own asks for state
    ``scalar_input[0]`` (``change_power_state_to``). Its ``set_power_state`` records where
    each call ran (``PowerCalls``: [thread, ordinal]) and tells its clients."""
    path = os.fsdecode(args.structure_input)
    (ordinal,) = args.scalar_input
    try:  # a fuzzer's call names no FIFO, and starts no thread
        if not stat.S_ISFIFO(os.stat(path).st_mode) or ordinal >= len(_STATES):
            return IOReturn.BAD_ARGUMENT
    except (OSError, ValueError):
        return IOReturn.BAD_ARGUMENT
    driver = _driver(target)
    if not driver.power_managed:
        driver.power_managed = True
        driver.pm_init()
        provider = driver.get_provider()
        assert provider is not None
        provider.join_pm_tree(driver)
        driver.register_power_driver(driver, _STATES)

    def ask() -> None:
        with open(path, "rb") as fifo:
            fifo.read()
        driver.change_power_state_to(ordinal)

    threading.Thread(target=ask, name="test-driver-power").start()
    return IOReturn.SUCCESS


class _ExitingBuffer(IOBufferMemoryDescriptor):
    """A faulty driver's buffer: the kernel asking it for its pages makes it exit."""

    def fileno(self) -> int:
        raise SystemExit("the buffer's fileno exits")


class TestUserClient(IOUserClient2022):
    user_client_properties: ClassVar[Mapping[str, Any]] = {
        **DEFAULT_LOCKING, kIOUserClientEntitlementsKey: False}
    dispatch_table = (
        IOExternalMethodDispatch2022(_set, 1, 0, 0, 0),  # 0: Appendix B 7's entry
        IOExternalMethodDispatch2022(_get, 0, 0, 1, 0),  # 1: one scalar out
        IOExternalMethodDispatch2022(_echo, 0, VAR, 0, VAR),  # 2: struct in, struct out
        IOExternalMethodDispatch2022(_add, 2, 0, 1, 0),  # 3: two in, one out
        IOExternalMethodDispatch2022(_watch, 0, 0, 0, 0, allow_async=True),  # 4: async
        IOExternalMethodDispatch2022(_set, 1, 0, 0, 0, check_entitlement=WRITE),  # 5
        IOExternalMethodDispatch2022(_raise, 0, 0, 0, 0),  # 6: the driver raises
        IOExternalMethodDispatch2022(None, 0, 0, 0, 0),  # 7: no function
        IOExternalMethodDispatch2022(_poke, 2, 0, 0, 0),  # 8: write a byte to shared memory
        IOExternalMethodDispatch2022(_sixteen, 0, 0, 16, 0),  # 9: as many scalars out as fit
        IOExternalMethodDispatch2022(_unplug, 1, 0, 0, 0),  # 10: drops sys.stdout and stderr
        # 11: async, completed from threads of the driver's own (a FIFO's path in)
        IOExternalMethodDispatch2022(_from_threads, 2, VAR, 0, 0, allow_async=True),
        IOExternalMethodDispatch2022(_publish_from_thread, 0, VAR, 0, 0),  # 12: the same
        IOExternalMethodDispatch2022(_power_from_thread, 1, VAR, 0, 0),  # 13: the same
    )

    def client_memory_for_type(self, type: int) -> Any:
        """Type 0: the driver's one shared page; 2: a buffer whose ``fileno`` raises
        SystemExit; 3: a buffer claiming more than it holds; any other type is not ours."""
        if type == 2:
            return _ExitingBuffer.with_capacity(4096)
        if type == 3:
            claimed = IOBufferMemoryDescriptor.with_capacity(4096)
            claimed.length = 1 << 70
            return claimed
        if type != 0:
            return IOReturn.BAD_ARGUMENT
        return _driver(self).shared_page()


    def client_died(self) -> int:
        _record(self, "client_died")
        return super().client_died()

    def client_close(self) -> int:
        _record(self, "client_close")
        return super().client_close()


def _record(client: IOUserClient, event: str) -> None:
    """Keep the last calls on the driver, where a test reads them (``ClientEvents``)."""
    provider = client.get_provider()
    if provider is not None:
        events = list(provider.get_property("ClientEvents", []))[-9:]
        provider.set_property("ClientEvents", [*events, event])


class NoEntitlementsClient(IOUserClient2022):
    """An IOUserClient2022 without IOUserClientEntitlements: denied (Appendix B 7)."""

    user_client_properties = DEFAULT_LOCKING


class ExclusiveClient(TestUserClient):
    exclusive = True


class EntitledOpenClient(TestUserClient):
    user_client_properties: ClassVar[Mapping[str, Any]] = {
        **DEFAULT_LOCKING, kIOUserClientEntitlementsKey: "com.test.userclient.open"}
