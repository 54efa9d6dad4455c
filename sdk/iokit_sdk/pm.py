"""Power management, the driver's side: IOService's power methods (``IOServicePM.cpp``).

A power-managed driver does what an IOKit driver does, in Apple's names (snake_case):

.. code-block:: python

    def start(self, provider):
        self.pm_init()
        provider.join_pm_tree(self)
        self.register_power_driver(self, STATES)   # a table of IOPMPowerState, lowest first
        self.change_power_state_to(len(STATES) - 1)
        return True

    def set_power_state(self, ordinal, device):
        ...                                   # move the hardware to state ``ordinal``
        return kIOPMAckImplied                # or N µs, then self.acknowledge_set_power_state()

The kernel calls ``set_power_state``, ``power_state_will_change_to``,
``power_state_did_change_to`` and ``message`` through the pluggy hooks of
:mod:`iokit_sdk.hookspecs`; every other method here is a request that the host's power
manager (:class:`PowerRequests`, reached through the service's kernel) queues and serialises
on its PM work queue, as IOKit's ``gIOPMWorkLoop`` does. Requests return IOKit's codes:
``kIOPMNoErr`` (0), ``kIOReturnBadArgument``, ``kIOPMNotYetInitialized``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from iokit_sdk.power import IOPMPowerState, kIOPMAckImplied

if TYPE_CHECKING:
    from iokit_sdk.service import IOService, Kernel

__all__ = ["IOPowerStateChangeNotification", "PowerManagement", "PowerRequests"]


@dataclass(slots=True)
class IOPowerStateChangeNotification:
    """The argument of the system power messages (``IOPowerStateChangeNotification``).

    Delivered with ``kIOMessageCanSystemSleep`` and ``kIOMessageSystemWillSleep``. A client
    that answers at once returns ``kIOReturnSuccess`` (0) from ``message()``; one that needs
    time sets :attr:`return_value` to the microseconds it needs (at most 30 s is waited) and
    later calls ``allow_power_change(power_ref)`` or ``cancel_power_change(power_ref)``.
    A late answer counts as an allow, as in IOKit.

    :param power_ref: the reference to answer with.
    :param return_value: µs the client still needs; 0 means it has answered.
    :param state_number: the root domain's state the system is going to.
    :param state_flags: that state's capability flags.
    """

    power_ref: int
    return_value: int = 0
    state_number: int = 0
    state_flags: int = 0


class PowerRequests(Protocol):
    """What a service may ask of the host's power manager (the kernel's ``power``).

    Every method takes the service the request is made on first; the
    :class:`PowerManagement` methods of :class:`~iokit_sdk.service.IOService` forward here.
    """

    def pm_init(self, service: IOService) -> None: ...
    def pm_stop(self, service: IOService) -> None: ...
    def join_pm_tree(self, provider: IOService, driver: IOService) -> None: ...
    def register_power_driver(self, service: IOService, driver: IOService,
                              states: Sequence[IOPMPowerState]) -> int: ...
    def acknowledge_set_power_state(self, service: IOService,
                                    ordinal: int | None = None) -> int: ...
    def register_interested_driver(self, service: IOService, driver: IOService) -> int: ...
    def deregister_interested_driver(self, service: IOService, driver: IOService) -> int: ...
    def acknowledge_power_change(self, service: IOService, driver: IOService) -> int: ...
    def change_power_state_to(self, service: IOService, ordinal: int) -> int: ...
    def change_power_state_to_priv(self, service: IOService, ordinal: int) -> int: ...
    def make_usable(self, service: IOService) -> int: ...
    def activity_tickle(self, service: IOService, policy: int, state: int) -> bool: ...
    def set_idle_timer_period(self, service: IOService, seconds: int) -> int: ...
    def temporary_power_clamp_on(self, service: IOService) -> int: ...
    def get_power_state(self, service: IOService) -> int: ...
    def register_priority_sleep_wake_interest(self, service: IOService) -> int: ...
    def allow_power_change(self, service: IOService, ref: int) -> int: ...
    def cancel_power_change(self, service: IOService, ref: int) -> int: ...


class PowerManagement:
    """IOService's power-management methods (a mixin of :class:`~iokit_sdk.service.IOService`).

    Override :meth:`set_power_state` (the controlling driver), and
    :meth:`power_state_will_change_to` / :meth:`power_state_did_change_to` (an interested
    driver); call the others.
    """

    __slots__ = ()

    _kernel: Kernel | None

    # -- the kernel calls these (through hooks) ---------------------------------------------
    def set_power_state(self, ordinal: int, device: IOService) -> int:
        """Move the hardware of ``device`` to state ``ordinal`` of the registered table.

        Called on the controlling driver, once per change, after the interested drivers were
        told (and, for a drop, after ``device``'s power children dropped). Return
        ``kIOPMAckImplied`` (0) when done, or the longest time it may take in µs (at least
        10 s is waited) and call ``device.acknowledge_set_power_state()`` when done. A late
        driver is flagged ``IOPMTardyAckSetPowerState`` and the change goes on.
        """
        return kIOPMAckImplied

    def power_state_will_change_to(self, capabilities: int, ordinal: int,
                                   device: IOService) -> int:
        """``device`` is about to enter state ``ordinal`` (with ``capabilities``).

        Called on an interested driver (see :meth:`register_interested_driver`) before the
        controlling driver's ``set_power_state``, and before ``device``'s power children are
        told. Return 0, or µs and then ``device.acknowledge_power_change(self)``.
        """
        return kIOPMAckImplied

    def power_state_did_change_to(self, capabilities: int, ordinal: int,
                                  device: IOService) -> int:
        """``device`` entered state ``ordinal``: called on interested drivers after
        ``set_power_state``, before a rise reaches ``device``'s power children. Return 0, or µs
        and then ``device.acknowledge_power_change(self)``."""
        return kIOPMAckImplied

    # -- joining and leaving ----------------------------------------------------------------
    def pm_init(self) -> None:
        """Create this service's power-management block (``PMinit``); call it first."""
        self._power().pm_init(self._service())

    def join_pm_tree(self, driver: IOService) -> None:
        """Make ``driver`` a power child of this service (``joinPMtree``; call it on the
        provider: ``provider.join_pm_tree(self)``). When this service is not power managed the
        child joins the nearest power-managed provider above it, else the root domain."""
        self._power().join_pm_tree(self._service(), driver)

    def register_power_driver(self, driver: IOService, states: Sequence[IOPMPowerState]) -> int:
        """Register ``driver`` as the controlling driver with its power-state table.

        :returns: 0; ``kIOReturnBadArgument`` for a table that is refused (fewer than two
            states, a version other than 1 or 2, a ``state_order`` that is not a permutation, a
            field that is not a 32-bit non-negative integer: each reported as the diagnostic
            ``power-table-invalid``); ``kIOPMNotYetInitialized`` before :meth:`pm_init`. Only
            the first registration counts.
        """
        return self._power().register_power_driver(self._service(), driver, states)

    def pm_stop(self) -> None:
        """Leave power management (``PMstop``): the service leaves the power tree. Termination
        calls it for every service that is still power managed."""
        kernel = self._kernel
        if kernel is not None:
            kernel.power.pm_stop(self._service())

    # -- the controlling driver's answers -----------------------------------------------------
    def acknowledge_set_power_state(self, ordinal: int | None = None) -> int:
        """Tell the kernel ``set_power_state`` finished (``acknowledgeSetPowerState``).

        :param ordinal: optional (an iokit-host addition): the state this acknowledges; an
            acknowledgement for another state than the one pending is logged and ignored.
        """
        return self._power().acknowledge_set_power_state(self._service(), ordinal)

    # -- interested drivers ---------------------------------------------------------------------
    def register_interested_driver(self, driver: IOService) -> int:
        """Have ``driver`` told before and after each change of this service
        (``registerInterestedDriver``); returns the current capability flags."""
        return self._power().register_interested_driver(self._service(), driver)

    def deregister_interested_driver(self, driver: IOService) -> int:
        """Stop telling ``driver`` about this service's changes."""
        return self._power().deregister_interested_driver(self._service(), driver)

    def acknowledge_power_change(self, driver: IOService) -> int:
        """``driver`` finished handling a will/did notification of this service
        (``acknowledgePowerChange``), after it returned a wait in µs."""
        return self._power().acknowledge_power_change(self._service(), driver)

    # -- requests -----------------------------------------------------------------------------
    def change_power_state_to(self, ordinal: int) -> int:
        """Ask for state ``ordinal`` as the driver (the ``DriverPowerState`` power client)."""
        return self._power().change_power_state_to(self._service(), ordinal)

    def change_power_state_to_priv(self, ordinal: int) -> int:
        """Ask for state ``ordinal`` as the device (the ``DevicePowerState`` power client)."""
        return self._power().change_power_state_to_priv(self._service(), ordinal)

    def make_usable(self) -> int:
        """Ask for the highest state as the device (``makeUsable``)."""
        return self._power().make_usable(self._service())

    def temporary_power_clamp_on(self) -> int:
        """Hold the highest state until the first power child joins (``ChildProxyPowerState``)."""
        return self._power().temporary_power_clamp_on(self._service())

    def activity_tickle(self, policy: int, state: int) -> bool:
        """Record device activity needing ``state`` (``activityTickle`` with
        ``kIOPMSuperclassPolicy1``): raises the device desire when lower.

        :returns: False when a rise was queued (the caller must wait for it); True when the
            device is already at a tickled state this high.
        """
        return self._power().activity_tickle(self._service(), policy, state)

    def set_idle_timer_period(self, seconds: int) -> int:
        """Step the device down one state per ``seconds`` without activity (0 stops it)."""
        return self._power().set_idle_timer_period(self._service(), seconds)

    def get_power_state(self) -> int:
        """The current state's ordinal; 0 for a service that is not power managed."""
        kernel = self._kernel
        return kernel.power.get_power_state(self._service()) if kernel is not None else 0

    # -- system sleep and wake ----------------------------------------------------------------
    def register_priority_sleep_wake_interest(self) -> int:
        """Receive the root domain's system messages in :meth:`message`
        (``registerPrioritySleepWakeInterest``): ``kIOMessageCanSystemSleep``,
        ``kIOMessageSystemWillSleep``, ``kIOMessageSystemWillPowerOn``,
        ``kIOMessageSystemHasPoweredOn``. The first two carry an
        :class:`IOPowerStateChangeNotification` to answer."""
        return self._power().register_priority_sleep_wake_interest(self._service())

    def allow_power_change(self, ref: int) -> int:
        """Answer a system power message with "go ahead" (``allowPowerChange``)."""
        return self._power().allow_power_change(self._service(), ref)

    def cancel_power_change(self, ref: int) -> int:
        """Answer a system power message with a veto (``cancelPowerChange``): it stops an
        idle sleep during ``kIOMessageCanSystemSleep``; a demand sleep is not cancelled."""
        return self._power().cancel_power_change(self._service(), ref)

    # -- plumbing ---------------------------------------------------------------------------------
    def _service(self) -> IOService:
        return self  # type: ignore[return-value]  # the mixin only ever sits in IOService

    def _power(self) -> PowerRequests:
        kernel = self._kernel
        if kernel is None:
            raise RuntimeError(f"{self!r} is not attached to a host yet")
        return kernel.power
