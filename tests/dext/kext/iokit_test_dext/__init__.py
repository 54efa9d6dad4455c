"""A test dext: ``CameraDriver`` drives the default machine's FaceTime camera from a driver
process. ``IOKIT_TEST_DEXT_MODE`` (inherited by the process) picks a fault for a test."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

from iokit_sdk import IOReturn, IOService
from iokit_sdk.messages import kIOMessageCanSystemSleep, kIOMessageSystemWillSleep
from iokit_sdk.pm import IOPowerStateChangeNotification
from iokit_sdk.power import IOPMPowerState, kIOPMDeviceUsable, kIOPMPowerOn
from iokit_sdk.userclient import IOExternalMethodArguments, IOUserClient, OSAsyncReference64

__all__ = ["CameraDriver", "CameraUserClient"]

_MODE = os.environ.get("IOKIT_TEST_DEXT_MODE", "")

if _MODE == "import-hang":
    signal.pause()  # never checks in


class CameraDriver(IOService):
    def probe(self, provider: IOService, score: int) -> int | None:
        self.set_property("ProbedIn", os.getpid())
        return score

    def start(self, provider: IOService) -> bool:
        mode = os.environ.get("IOKIT_TEST_DEXT_MODE", "")
        if mode == "start-exit":
            os._exit(3)
        if mode == "start-sys-exit":
            raise SystemExit(5)
        if mode == "start-raise":
            raise RuntimeError("no firmware")
        if mode == "start-hang":
            signal.pause()
        if mode == "start-segv":
            ctypes.string_at(0)
        if mode == "start-garbage":  # a frame no reader takes, then waits for ever
            channel = int(sys.argv[sys.argv.index("--fd") + 1])
            os.write(channel, b"\xff\xff\xff\xff not a frame")
            signal.pause()
        if mode == "start-fork":  # a helper that outlives nothing: it goes with the process
            child = os.fork()
            if child == 0:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                signal.pause()
                os._exit(0)
            self.set_property("ChildPid", child)
        if mode == "start-daemon":  # a helper that leaves the process group for good
            self.set_property("DaemonPid", _daemon())
        self.set_property("DriverPid", os.getpid())
        self.set_property("ProviderName", provider.get_name())
        if mode in ("sleep-veto", "sleep-slow"):
            self.register_priority_sleep_wake_interest()
        if mode == "own-power":  # an in-process driver's power code, unchanged
            self.pm_init()
            provider.join_pm_tree(self)
            self.set_property("RegisterResult", self.register_power_driver(self, OWN_STATES))
            self.change_power_state_to(len(OWN_STATES) - 1)
        nub = IOService({"CameraNubKey": "published by the dext"}, name="CameraNub")
        nub.attach(self)
        nub.register_service()
        self.register_service()  # programs find it by name
        return True

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        mode = os.environ.get("IOKIT_TEST_DEXT_MODE", "")
        if ordinal == 0 and mode == "power-kill":
            os.kill(os.getpid(), signal.SIGKILL)
        self.set_property("PowerStateSeen", ordinal)
        if mode == "power-ack-later" and ordinal == 1:
            self.set_property("AckPending", ordinal)
            return 5_000_000  # µs: acknowledged by selector 7
        return 0


    def message(self, message_type: int, provider: IOService | None,
                argument: object = None) -> int:
        """System sleep questions: vetoed (``sleep-veto``), or answered late (``sleep-slow``:
        asks for 3 s and never answers, which counts as allowed)."""
        if not isinstance(argument, IOPowerStateChangeNotification):
            return IOReturn.UNSUPPORTED
        mode = os.environ.get("IOKIT_TEST_DEXT_MODE", "")
        self.set_property("PowerQuestion", message_type)
        if mode == "sleep-veto" and message_type == kIOMessageCanSystemSleep:
            self.cancel_power_change(argument.power_ref)
        elif mode == "sleep-slow" and message_type == kIOMessageSystemWillSleep:
            argument.return_value = 3_000_000
        return 0


if _MODE in ("informed", "informed-late"):  # an interested driver (IOKit's informee)
    def _will(self: CameraDriver, capabilities: int, ordinal: int, device: IOService) -> int:
        self.set_property("WillChangeTo", [ordinal, device.get_name()])
        return 5_000_000 if _MODE == "informed-late" else 0  # µs, never acknowledged

    def _did(self: CameraDriver, capabilities: int, ordinal: int, device: IOService) -> int:
        self.set_property("DidChangeTo", ordinal)
        return 0

    CameraDriver.power_state_will_change_to = _will  # type: ignore[method-assign]
    CameraDriver.power_state_did_change_to = _did  # type: ignore[method-assign]


#: A four-state table of the driver's own (mode ``own-power``): off, doze, low, on.
OWN_STATES = [IOPMPowerState()] + [
    IOPMPowerState(capability_flags=flags, output_power_character=flags,
                   input_power_requirement=kIOPMPowerOn)
    for flags in (kIOPMPowerOn, kIOPMPowerOn, kIOPMPowerOn | kIOPMDeviceUsable)]


class CameraUserClient(IOUserClient):
    """Selector 0 echoes (its pid, twice the scalar, the structure); 1 kills its process;
    2 arms an async reference (completed at once when the scalar is 1, refused when 2); 3 completes every
    armed reference (its pid, how many completions so far), 4 does that from a timer thread
    once the call has returned;
    5 arms then kills its process; 6 makes a power request (scalars: which, value) and
    returns its result (10: from a timer thread once the call returned); 7 acknowledges a
    pending ``set_power_state``; 8 reads the shared
    buffer (scalars: offset, length), 9 writes the structure into it at the scalar offset.
    Memory type 0 is a 4 KiB buffer starting ``dext-frame``; type 1 is ``kIOReturnNoMemory``;
    type 2 kills its process."""

    def start(self, provider: IOService) -> bool:
        self.driver = provider  # the CameraDriver object itself, in this process
        self.armed: list[OSAsyncReference64] = []
        self.completions = 0
        # Imported here: the launch benchmark starts this kext and measures the server's
        # start-up, not a buffer's imports (mmap, tempfile).
        from iokit_sdk.memory import IOBufferMemoryDescriptor

        self.buffer = IOBufferMemoryDescriptor.with_capacity(4096)
        self.buffer.write_bytes(0, b"dext-frame")
        return True

    def external_method(self, selector: int, arguments: IOExternalMethodArguments,
                        dispatch: object = None, target: object = None,
                        reference: object = None) -> int:
        if selector == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        if selector in (2, 5):
            return self._arm(selector, arguments)
        if selector == 3:
            self.fire()
            return 0
        if selector == 4:  # a timer on its own thread: it fires after this call returned
            threading.Timer(0.05, self.fire).start()
            return 0
        if selector == 6:
            arguments.scalar_output = [int(self._power(*arguments.scalar_input))]
            return 0
        if selector == 10:  # the same request from a timer thread, after this call returned
            threading.Timer(0.05, self._power, arguments.scalar_input).start()
            return 0
        if selector == 7:
            arguments.scalar_output = [self.driver.acknowledge_set_power_state()]
            return 0
        if selector == 8:
            offset, length = arguments.scalar_input
            arguments.structure_output = self.buffer.read_bytes(offset, length)
            return 0
        if selector == 9:
            self.buffer.write_bytes(arguments.scalar_input[0], arguments.structure_input)
            return 0
        arguments.scalar_output = [os.getpid(), 2 * arguments.scalar_input[0]]
        arguments.structure_output = b"dext:" + arguments.structure_input
        self.driver.set_property("LastSelector", selector)
        return 0

    def _arm(self, selector: int, arguments: IOExternalMethodArguments) -> int:
        if arguments.async_reference is None or arguments.scalar_input[:1] == (2,):
            return IOReturn.BAD_ARGUMENT  # async only; 2 refuses
        self.armed.append(arguments.async_reference)
        if selector == 5:
            os.kill(os.getpid(), signal.SIGKILL)
        if arguments.scalar_input[:1] == (1,):
            self.fire()
        return 0

    def fire(self) -> None:
        for reference in self.armed:
            self.completions += 1
            self.send_async_result(reference, 0, [os.getpid(), self.completions])

    def _power(self, which: int, value: int) -> int | bool:
        driver = self.driver
        if which == 0:
            return driver.change_power_state_to(value)
        if which == 1:
            return driver.change_power_state_to_priv(value)
        if which == 2:
            return driver.make_usable()
        if which == 3:
            return driver.activity_tickle(1, value)
        return driver.get_power_state()

    def client_memory_for_type(self, type: int) -> object:
        if type == 0:
            return self.buffer
        if type == 1:
            return IOReturn.NO_MEMORY
        if type == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return IOReturn.UNSUPPORTED


def _daemon() -> int:
    """A daemon's double fork: the helper calls ``setsid`` (out of the driver process's
    group) and its parent exits (the helper is orphaned); its pid comes back on a pipe."""
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.setsid()
        helper = os.fork()
        if helper == 0:
            os.close(read)
            os.close(write)
            while True:
                signal.pause()
        os.write(write, str(helper).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(middle, 0)
    with os.fdopen(read) as pipe:
        return int(pipe.read())
