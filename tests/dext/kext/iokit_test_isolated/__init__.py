"""An ordinary kext for ``--isolate`` tests: ``ExitingDriver`` ends its process in ``start``;
``SteadyDriver``, the next candidate for the same device, starts."""

from __future__ import annotations

import os

from iokit_sdk import IOService

__all__ = ["ExitingDriver", "SteadyDriver"]


class ExitingDriver(IOService):
    def start(self, provider: IOService) -> bool:
        os._exit(0)


class SteadyDriver(IOService):
    def start(self, provider: IOService) -> bool:
        self.set_property("DriverPid", os.getpid())
        return True
