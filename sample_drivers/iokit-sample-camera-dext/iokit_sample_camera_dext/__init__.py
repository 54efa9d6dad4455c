"""A sample dext: the default machine's USB camera, driven from a driver process.

Nothing here is DriverKit-specific: the classes are plain ``IOService``/``IOUserClient``
subclasses. What makes this a dext is the personality (``IOUserServerName``, ``IOUserClass``
and ``IOClass`` ``IOUserService``), so the kernel runs these classes in their own process.
"""

from __future__ import annotations

import os
from typing import ClassVar

from iokit_sdk import IOReturn, IOService
from iokit_sdk.userclient import (
    IOExternalMethodArguments,
    IOExternalMethodDispatch,
    IOUserClient,
)

__all__ = ["SampleCameraDext", "SampleCameraDextUserClient"]

SELECTOR_FRAMES = 0
SELECTOR_SET_EXPOSURE = 1


class SampleCameraDext(IOService):
    """The camera driver: counts frames, keeps an exposure, publishes them as properties."""

    def start(self, provider: IOService) -> bool:
        self.frames = 0
        self.set_property("DriverProcess", os.getpid())
        self.set_property("Exposure", 100)
        self.register_service()
        return True

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        self.set_property("CameraPowerState", ordinal)
        return 0

    def capture(self) -> int:
        self.frames += 1
        return self.frames


def _frames(target: SampleCameraDextUserClient, reference: object,
            arguments: IOExternalMethodArguments) -> int:
    arguments.scalar_output = [target.driver.capture()]
    return IOReturn.SUCCESS


def _set_exposure(target: SampleCameraDextUserClient, reference: object,
                  arguments: IOExternalMethodArguments) -> int:
    (value,) = arguments.scalar_input
    if not 1 <= value <= 1000:
        return IOReturn.BAD_ARGUMENT
    target.driver.set_property("Exposure", value)
    return IOReturn.SUCCESS


class SampleCameraDextUserClient(IOUserClient):
    """``IOUserClientClass`` of the dext: its provider is the driver object, in the process."""

    METHODS: ClassVar[dict[int, IOExternalMethodDispatch]] = {
        SELECTOR_FRAMES: IOExternalMethodDispatch(_frames, 0, 0, 1, 0),
        SELECTOR_SET_EXPOSURE: IOExternalMethodDispatch(_set_exposure, 1, 0, 0, 0)}

    def start(self, provider: IOService) -> bool:
        self.driver = provider
        return isinstance(provider, SampleCameraDext)

    def external_method(self, selector: int, arguments: IOExternalMethodArguments,
                        dispatch: IOExternalMethodDispatch | None = None,
                        target: object = None, reference: object = None) -> int:
        entry = self.METHODS.get(selector)
        if entry is None:
            return IOReturn.BAD_ARGUMENT
        return super().external_method(selector, arguments, entry, self, None)
