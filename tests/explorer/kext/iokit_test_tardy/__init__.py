"""A test kext whose audio driver answers its power changes late: the power timeline's tardy driver.

``TardyAudio`` drives the default machine's HD audio controller (``HDEF``) and, when the system
sleeps, asks for 10 s to power down (``set_power_state`` returns 10,000,000 µs) and never calls
``acknowledge_set_power_state``: the kernel flags it ``IOPMTardyAckSetPowerState`` when the
window runs out (10.1 s on the host clock) and goes on, as IOKit does. Its wake answers at once.
"""

from __future__ import annotations

from iokit_sdk import IOService
from iokit_sdk.power import IOPMPowerState, kIOPMAckImplied, kIOPMDeviceUsable, kIOPMPowerOn

__all__ = ["TardyAudio"]

STATES = (IOPMPowerState(),
          IOPMPowerState(capability_flags=kIOPMPowerOn | kIOPMDeviceUsable,
                         output_power_character=kIOPMPowerOn,
                         input_power_requirement=kIOPMPowerOn))
#: What the driver asks for when it powers down: the 10 s window, never acknowledged.
SLOW_US = 10_000_000


class TardyAudio(IOService):
    def start(self, provider: IOService) -> bool:
        self.pm_init()
        provider.join_pm_tree(self)
        self.register_power_driver(self, STATES)
        self.change_power_state_to(1)
        self.register_service()
        return True

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        return SLOW_US if ordinal == 0 else kIOPMAckImplied
