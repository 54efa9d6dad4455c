"""A dext's place in the power plane: ``IOUserServer::serviceJoinPMTree`` and its fixed table.

IOKit gives every dext service the same three power states, 0 off, 1 ``kIOPMLowPower`` and 2
``kIOPMPowerOn`` (input = output = capability), and joins it to the power plane under its
provider once it started. The kernel's ``setPowerState`` on the proxy is then sent to the
driver process as ``SetPowerState`` (:meth:`~iokit_host.dext.proxy.IOUserService.set_power_state`).
A driver process's own power requests (``pm_init``, ``register_power_driver``,
``change_power_state_to``, ``activity_tickle``...) cross to the kernel's power manager
(:mod:`iokit_host.dext.upcalls`); one that registers its own table keeps it instead of this one.
"""

from __future__ import annotations

from iokit_sdk.power import IOPMPowerState, kIOPMLowPower, kIOPMPowerOn
from iokit_sdk.service import IOService

__all__ = ["DEXT_POWER_STATES", "join_power"]

DEXT_POWER_STATES = (
    IOPMPowerState(),
    IOPMPowerState(capability_flags=kIOPMLowPower, output_power_character=kIOPMLowPower,
                   input_power_requirement=kIOPMLowPower),
    IOPMPowerState(capability_flags=kIOPMPowerOn, output_power_character=kIOPMPowerOn,
                   input_power_requirement=kIOPMPowerOn),
)


def join_power(service: IOService, provider: IOService) -> None:
    """``serviceJoinPMTree``: initialise power management on ``service``, join it under
    ``provider``, register the fixed table and ask for its top state. A driver that registered
    a table of its own in ``start`` (its requests cross, :mod:`.upcalls`) keeps it, and its own
    requests, as an in-process driver would."""
    pm_of = getattr(service._require_kernel().power, "pm_of", None)
    pm = pm_of(service) if callable(pm_of) else None
    if getattr(pm, "table", None) is not None:
        return
    service.pm_init()
    provider.join_pm_tree(service)
    service.register_power_driver(service, list(DEXT_POWER_STATES))
    # The kernel asks for the table's top itself, so the dext is on and comes back on wake.
    service.change_power_state_to_priv(len(DEXT_POWER_STATES) - 1)
