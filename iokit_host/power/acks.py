"""Driver answers: ``set_power_state`` and will/did return values, acknowledgements, timeouts.

As IOServicePM.cpp (``driverSetPowerState``, ``notifyControllingDriverDone``,
``ackTimerTick``, ``handleAcknowledgeSetPowerState``, ``handleAcknowledgePowerChange``) treats
them, on the host clock:

- ``kIOPMAckImplied`` (0) or a negative value: done;
- a positive value: microseconds the driver may take (an ``IOReturn``, a 32-bit ``int``: one
  past ``2**31 - 1`` is negative there, done); raised to at least 10 s
  (``kMinAckTimeoutTicks``) and counted in 100 ms ticks, ``µs / 100000 + 1`` of them;
- an acknowledgement that arrives during the call counts, and the return value is ignored;
- when the ticks run out, ``IOPMTardyAckSetPowerState`` (or ``IOPMTardyAckPowerStateChange``
  for will/did) is set to true on the service, the log says which call timed out after how
  long, and the change goes on as if acknowledged.

What IOKit panics or silently ignores is logged here as a ``fault`` and survived: a driver
that raises (treated as acknowledged), returns something that is not an integer, acknowledges
twice, acknowledges when nothing is pending, or acknowledges another state than the pending one.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from iokit_sdk.entry import IORegistryEntry

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.driver_calls import DriverFault, described, service_name
from iokit_host.kernel.driver_results import plain_int, short_repr

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

    from iokit_host.power.context import PowerContext
    from iokit_host.power.pm import ServicePM
    from iokit_host.power.queue import Ack

__all__ = ["ACK_TICK_NS", "MIN_ACK_US", "TARDY_CHANGE", "TARDY_SET", "Answers", "ack_window_ns"]

ACK_TICK_NS = 100_000_000
MIN_ACK_US = 10_000_000
TARDY_SET = "IOPMTardyAckSetPowerState"
TARDY_CHANGE = "IOPMTardyAckPowerStateChange"
_INT32_MAX = (1 << 31) - 1
_UINT32_MAX = (1 << 32) - 1
_CALL_NAMES = {"set-power-state": "set_power_state", "will-change": "power_state_will_change_to",
               "did-change": "power_state_did_change_to"}


def ack_window_ns(returned_us: int) -> int:
    """How long a driver that returned ``returned_us`` is waited for: ``max(µs, 10 s)`` in
    100 ms ticks, ``µs // 100000 + 1`` of them."""
    ticks = max(returned_us, MIN_ACK_US) // 100_000 + 1
    return ticks * ACK_TICK_NS


class Answers:
    """Settles each driver call of a change and takes the driver's acknowledgements."""

    def __init__(self, context: PowerContext) -> None:
        self._context = context

    # -- after a call ------------------------------------------------------------------------------
    def settle(self, pm: ServicePM, ack: Ack, result: Any) -> None:
        """Decide from a call's result whether ``ack`` is answered or must be waited for."""
        context = self._context
        if isinstance(result, DriverFault):
            self.fault(ack.who, f"{self.call_text(ack)} {result.reason('').strip()}; "
                                "treated as acknowledged", ack.ordinal, error=result)
            self._answer(pm, ack, "raised")
        elif ack.done:
            return  # acknowledged during the call: the return value is ignored
        elif (wait_us := plain_int(result)) is not None and 0 < wait_us <= _INT32_MAX:
            deadline = context.clock.now_ns() + ack_window_ns(wait_us)
            ack.timer = context.clock.call_at(deadline, partial(self.timeout, pm, ack))
        else:
            # 2**31 to 2**32 - 1 is a negative IOReturn to IOServicePM: done, as there. Past
            # 32 bits no IOReturn holds it (C would have cut it): a fault, not a wait of ages.
            if result is not None and (wait_us is None or
                                       not -_INT32_MAX - 1 <= wait_us <= _UINT32_MAX):
                self.fault(ack.who, f"{self.call_text(ack)} returned {_show(result)}, not a "
                                    "32-bit IOReturn; treated as acknowledged", ack.ordinal)
            self._answer(pm, ack, "")

    def timeout(self, pm: ServicePM, ack: Ack) -> None:
        """The ticks ran out: flag the service tardy, log, and go on as if acknowledged."""
        if ack.done:
            return
        context = self._context
        now = context.clock.now_ns()
        waited_ms = (now - ack.started_ns) // 1_000_000
        key = TARDY_SET if ack.kind == "set-power-state" else TARDY_CHANGE
        pm.service.set_property(key, True)
        detail = f"{self.call_text(ack)} timed out after {waited_ms} ms"
        context.log.add(now, "ack-timeout", ack.who, detail, to_state=ack.ordinal)
        self._answer(pm, ack, f"timed out after {waited_ms} ms")
        context.kick()

    # -- acknowledgements -------------------------------------------------------------------------
    def acknowledge_set(self, pm: ServicePM, ordinal: int | None) -> bool:
        """``acknowledge_set_power_state`` on ``pm``'s service; False when it was unexpected."""
        ack = pm.pending_set
        driver = pm.driver or pm.service
        if ack is None or ack.done:
            self.fault(driver, "acknowledge_set_power_state with no set_power_state pending "
                               "(a second or late acknowledgement); ignored", ordinal)
            return False
        if ordinal is not None and ordinal != ack.ordinal:
            self.fault(driver, f"acknowledge_set_power_state for state {ordinal} while "
                               f"set_power_state({ack.ordinal}) is pending; ignored", ordinal)
            return False
        self._late_ack(ack)
        self._answer(pm, ack, "")
        self._context.kick()
        return True

    def acknowledge_change(self, pm: ServicePM, driver: IOService) -> bool:
        """``acknowledge_power_change(driver)`` on ``pm``'s service."""
        ack = pm.pending_informees.get(id(driver))
        if ack is None or ack.done:
            self.fault(driver, "acknowledge_power_change with no will/did notification "
                               f"pending for {service_name(pm.service)}; ignored", None)
            return False
        self._late_ack(ack)
        self._answer(pm, ack, "")
        self._context.kick()
        return True

    def close(self, pm: ServicePM, ack: Ack, why: str) -> None:
        """Answer ``ack`` on the driver's behalf (it left power management)."""
        if not ack.done:
            self._answer(pm, ack, why)

    # -- helpers -------------------------------------------------------------------------------------
    def _late_ack(self, ack: Ack) -> None:
        if ack.timer is None:
            return  # during the call: the call's own event says it
        context = self._context
        now = context.clock.now_ns()
        context.log.add(now, "acknowledged", ack.who,
                        f"{self.call_text(ack)} acknowledged after "
                        f"{(now - ack.started_ns) // 1_000_000} ms", to_state=ack.ordinal)

    def _answer(self, pm: ServicePM, ack: Ack, how: str) -> None:
        """Resolve ``ack``, close its log slot and forget it as pending."""
        if ack.kind == "set-power-state":
            if pm.pending_set is ack:
                pm.pending_set = None
        elif pm.pending_informees.get(id(ack.who)) is ack:
            del pm.pending_informees[id(ack.who)]
        if ack.slot is not None:
            context = self._context
            # call_text, inline: this ends every driver call of a system sleep.
            detail = f"{_class(ack.who)}::{_CALL_NAMES.get(ack.kind, ack.kind)}({ack.ordinal})"
            if how:
                detail += f": {how}"
            context.log.end(ack.slot, ack.started_ns, ack.kind, ack.who, detail,
                            ack.origin, ack.ordinal, context.clock.now_ns())
            ack.slot = None
        ack.resolve()

    def call_text(self, ack: Ack) -> str:
        name = _CALL_NAMES.get(ack.kind, ack.kind)
        return f"{_class(ack.who)}::{name}({ack.ordinal})"

    def fault(self, who: object, detail: str, ordinal: int | None, *,
              error: DriverFault | None = None) -> None:
        """Log a driver's misbehaviour (and report a raise as a diagnostic)."""
        context = self._context
        service = who if isinstance(who, IORegistryEntry) else None
        context.log.add(context.clock.now_ns(), "fault", service, detail, to_state=ordinal)
        if error is not None:
            context.kernel.report(Diagnostic(
                error.reference("driver-power-call-raised"),
                f"{described(service) if service is not None else _class(who)}: {detail}",
                subject=_class(who), severity=Severity.WARNING,
                hint="the power change went on as if the driver had acknowledged",
                context={"exception": error.error}))


def _class(who: object) -> str:
    return str(getattr(who, "iokit_class_name", type(who).__name__))


def _show(value: object) -> str:
    """A driver's value, printed without running its code (see ``short_repr``)."""
    text = short_repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
