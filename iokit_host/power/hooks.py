"""The built-in plugin's power hooks: each forwards to the driver's own method (pytest's pattern).

``iokit_set_power_state`` calls ``setPowerState``, the will/did hooks call
``powerStateWillChangeTo``/``powerStateDidChangeTo``, ``iokit_message`` calls ``message``, as
IOKit's PM work loop calls the C++ virtuals. All are ``trylast``, so a host plugin can wrap
them (tracing, timing, fault injection) or answer first in a test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iokit_sdk.hookspecs import hookimpl

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

__all__ = ["PowerHooks"]


class PowerHooks:
    """A mixin of the kernel's built-in plugin: the power-management hook implementations."""

    @hookimpl(trylast=True)
    def iokit_set_power_state(self, service: IOService, ordinal: int, device: IOService) -> int:
        return service.set_power_state(ordinal, device)

    @hookimpl(trylast=True)
    def iokit_power_state_will_change_to(self, service: IOService, capabilities: int,
                                         ordinal: int, device: IOService) -> int:
        return service.power_state_will_change_to(capabilities, ordinal, device)

    @hookimpl(trylast=True)
    def iokit_power_state_did_change_to(self, service: IOService, capabilities: int,
                                        ordinal: int, device: IOService) -> int:
        return service.power_state_did_change_to(capabilities, ordinal, device)

    @hookimpl(trylast=True)
    def iokit_message(self, service: IOService, message_type: int, provider: IOService | None,
                      argument: Any) -> int:
        return service.message(message_type, provider, argument)
