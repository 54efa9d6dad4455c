"""A test dext: ``CameraDriver`` drives the default machine's FaceTime camera from a driver
process. ``IOKIT_TEST_DEXT_MODE`` (inherited by the process) picks a fault for a test."""

from __future__ import annotations

import ctypes
import os
import signal

from iokit_sdk import IOService
from iokit_sdk.userclient import IOExternalMethodArguments, IOUserClient

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
        if mode == "start-raise":
            raise RuntimeError("no firmware")
        if mode == "start-hang":
            signal.pause()
        if mode == "start-segv":
            ctypes.string_at(0)
        self.set_property("DriverPid", os.getpid())
        self.set_property("ProviderName", provider.get_name())
        nub = IOService({"CameraNubKey": "published by the dext"}, name="CameraNub")
        nub.attach(self)
        nub.register_service()
        return True

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        if ordinal == 0 and os.environ.get("IOKIT_TEST_DEXT_MODE", "") == "power-kill":
            os.kill(os.getpid(), signal.SIGKILL)
        self.set_property("PowerStateSeen", ordinal)
        return 0


class CameraUserClient(IOUserClient):
    """Selector 0 echoes (its pid, twice the scalar, the structure); 1 kills its process."""

    def start(self, provider: IOService) -> bool:
        self.driver = provider  # the CameraDriver object itself, in this process
        return True

    def external_method(self, selector: int, arguments: IOExternalMethodArguments,
                        dispatch: object = None, target: object = None,
                        reference: object = None) -> int:
        if selector == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        arguments.scalar_output = [os.getpid(), 2 * arguments.scalar_input[0]]
        arguments.structure_output = b"dext:" + arguments.structure_input
        self.driver.set_property("LastSelector", selector)
        return 0
