"""A sample dext: the default machine's USB camera, driven from a driver process.

Nothing here is DriverKit-specific: the classes are plain ``IOService``/``IOUserClient2022``
subclasses. What makes this a dext is the personality (``IOUserServerName``, ``IOUserClass``
and ``IOClass`` ``IOUserService``), so the kernel runs these classes in their own process, and
everything below crosses the process boundary through the kernel:

- the frame buffer (memory type :data:`FRAME_BUFFER`) is memory made in this process; a program
  maps it with ``IOConnectMapMemory`` and reads the frames this process writes, byte for byte;
- "tell me when a frame is ready" is an async method (:data:`SELECTOR_WATCH_FRAMES`): the
  reference is kept, and every capture completes it with ``send_async_result``;
- power: the driver registers its own table and asks for the top state (``make_usable``); an
  idle timer steps the camera down after :data:`IDLE_SECONDS` without a capture, and each
  capture is device activity (``activity_tickle``) that brings it back up.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from typing import Any, ClassVar

from iokit_sdk import IOReturn, IOService
from iokit_sdk.memory import IOBufferMemoryDescriptor
from iokit_sdk.power import (
    IOPMPowerState,
    kIOPMAckImplied,
    kIOPMDeviceUsable,
    kIOPMPowerOn,
    kIOPMSuperclassPolicy1,
)
from iokit_sdk.returns import MACH_SEND_INVALID_DEST
from iokit_sdk.userclient import (
    DEFAULT_LOCKING,
    IOExternalMethodArguments,
    IOExternalMethodDispatch2022,
    IOUserClient,
    IOUserClient2022,
    OSAsyncReference64,
    kIOUserClientEntitlementsKey,
)

__all__ = ["SampleCameraDext", "SampleCameraDextUserClient"]

SELECTOR_FRAMES = 0
SELECTOR_SET_EXPOSURE = 1
SELECTOR_WATCH_FRAMES = 2
SELECTOR_CAPTURE = 3
#: ``IOConnectMapMemory`` type of the frame buffer.
FRAME_BUFFER = 0
#: A frame: a header (frame number, exposure: two little-endian 32-bit words) and pixels.
FRAME_HEADER = struct.Struct("<II")
FRAME_BYTES = 4096
#: Off, and on (usable); a capture needs the camera on.
POWER_STATES = [
    IOPMPowerState(),
    IOPMPowerState(capability_flags=kIOPMPowerOn | kIOPMDeviceUsable,
                   output_power_character=kIOPMPowerOn, input_power_requirement=kIOPMPowerOn),
]
CAMERA_ON = 1
#: Seconds without a capture before the camera powers down.
IDLE_SECONDS = 30


class SampleCameraDext(IOService):
    """The camera driver: captures frames into its frame buffer and tells the watchers."""

    def start(self, provider: IOService) -> bool:
        self.frames = 0
        self.watchers: list[tuple[IOUserClient, OSAsyncReference64]] = []
        self.frame_buffer = IOBufferMemoryDescriptor.with_capacity(FRAME_BYTES)
        self.set_property("DriverProcess", os.getpid())
        self.set_property("Exposure", 100)
        # An in-process driver's power code, unchanged: each request crosses to the kernel.
        self.pm_init()
        provider.join_pm_tree(self)
        self.register_power_driver(self, POWER_STATES)
        self.make_usable()  # on as the device; the idle timer lowers that desire
        self.set_idle_timer_period(IDLE_SECONDS)
        self.register_service()
        return True

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        self.set_property("CameraPowerState", ordinal)
        return kIOPMAckImplied

    def capture(self) -> int:
        """One frame into the frame buffer; every watcher is told (frame number, size)."""
        self.activity_tickle(kIOPMSuperclassPolicy1, CAMERA_ON)
        self.frames += 1
        exposure = self.get_property("Exposure")
        header = FRAME_HEADER.pack(self.frames, exposure if isinstance(exposure, int) else 0)
        pixels = bytes((self.frames + i) & 0xFF for i in range(FRAME_BYTES - len(header)))
        self.frame_buffer.write_bytes(0, header + pixels)
        for client, reference in list(self.watchers):
            if client.send_async_result(reference, IOReturn.SUCCESS,
                                        [self.frames, FRAME_BYTES]) == MACH_SEND_INVALID_DEST:
                self.forget(client)
        return self.frames

    def watch(self, client: IOUserClient, reference: OSAsyncReference64) -> None:
        self.watchers.append((client, reference))

    def forget(self, client: IOUserClient) -> None:
        self.watchers = [w for w in self.watchers if w[0] is not client]


def _driver(target: IOUserClient) -> SampleCameraDext:
    driver = getattr(target, "driver", None)
    if not isinstance(driver, SampleCameraDext):
        raise TypeError("the camera's user client was started on the camera driver")
    return driver


def _frames(target: IOUserClient, reference: Any, arguments: IOExternalMethodArguments) -> int:
    arguments.scalar_output = [_driver(target).frames]
    return IOReturn.SUCCESS


def _set_exposure(target: IOUserClient, reference: Any,
                  arguments: IOExternalMethodArguments) -> int:
    (value,) = arguments.scalar_input
    if not 1 <= value <= 1000:
        return IOReturn.BAD_ARGUMENT
    _driver(target).set_property("Exposure", value)
    return IOReturn.SUCCESS


def _watch_frames(target: IOUserClient, reference: Any,
                  arguments: IOExternalMethodArguments) -> int:
    if arguments.async_reference is None:
        return IOReturn.BAD_ARGUMENT  # a watch is an async call
    _driver(target).watch(target, arguments.async_reference)
    return IOReturn.SUCCESS


def _capture(target: IOUserClient, reference: Any, arguments: IOExternalMethodArguments) -> int:
    arguments.scalar_output = [_driver(target).capture()]
    return IOReturn.SUCCESS


class SampleCameraDextUserClient(IOUserClient2022):
    """``IOUserClientClass`` of the dext: its provider is the driver object, in the process.
    Only :data:`SELECTOR_WATCH_FRAMES` allows async calls; anyone may open it."""

    user_client_properties: ClassVar[Mapping[str, Any]] = {
        **DEFAULT_LOCKING,
        kIOUserClientEntitlementsKey: False,
    }
    dispatch_table = (
        IOExternalMethodDispatch2022(_frames, 0, 0, 1, 0),
        IOExternalMethodDispatch2022(_set_exposure, 1, 0, 0, 0),
        IOExternalMethodDispatch2022(_watch_frames, 0, 0, 0, 0, allow_async=True),
        IOExternalMethodDispatch2022(_capture, 0, 0, 1, 0),
    )

    def start(self, provider: IOService) -> bool:
        self.driver = provider  # the camera driver object itself, in this process
        return isinstance(provider, SampleCameraDext)

    def client_memory_for_type(self, type: int) -> Any:
        if type != FRAME_BUFFER:
            return IOReturn.BAD_ARGUMENT
        return _driver(self).frame_buffer

    def client_close(self) -> int:
        _driver(self).forget(self)  # no frame is announced to a closed client
        return super().client_close()
