"""RootDomainUserClient: how programs take part in system sleep (RootDomainUserClient.cpp).

``IORegisterForSystemPower`` opens the root domain (``IOUserClientClass`` =
``RootDomainUserClient``, as in a real ioreg) and asks for ``kIOAppPowerStateInterest``
messages; ``IOAllowPowerChange`` and ``IOCancelPowerChange`` are scalar calls on that
connection, selectors 3 and 4 (one scalar in: the notification id), IOKIT_SEMANTICS.md §6.8.

Here the interest registration is the async method of selector 8 (an iokit-host selector: Mach
interest notifications and async completions travel the same way): the client becomes one of
the root domain's sleep/wake clients, and each system message goes to the program's port as
``(message type, notification id)``. A question (``kIOMessageCanSystemSleep``,
``kIOMessageSystemWillSleep``) asks for the longest time (30 s), so the kernel waits for the
program's answer. A program that goes away answers nothing: its open questions are allowed
when its connection closes ("tardy equates to approval").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from iokit_sdk.pm import IOPowerStateChangeNotification
from iokit_sdk.returns import IOReturn
from iokit_sdk.service import IOService
from iokit_sdk.userclient import (
    DEFAULT_LOCKING,
    IOExternalMethodArguments,
    IOExternalMethodDispatch2022,
    IOUserClient,
    IOUserClient2022,
    OSAsyncReference64,
    kIOUserClientEntitlementsKey,
)

from iokit_host.power.messages import MAX_TIME_REQUESTED_US

__all__ = ["ROOT_DOMAIN_USER_CLIENT", "RootDomainUserClient", "Selector"]

ROOT_DOMAIN_USER_CLIENT = "RootDomainUserClient"


class Selector:
    """RootDomainUserClient's methods (IOPMPrivate.h ``kPMSetAggressiveness`` ...)."""

    SLEEP_SYSTEM = 2
    ALLOW_POWER_CHANGE = 3
    CANCEL_POWER_CHANGE = 4
    REGISTER_FOR_SYSTEM_POWER = 8  # iokit-host: the kIOAppPowerStateInterest registration


def _client(target: IOUserClient) -> RootDomainUserClient:
    assert isinstance(target, RootDomainUserClient)
    return target


def _sleep(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    request = getattr(target._power(), "request_transition", None)  # the host's PowerManager
    if request is None:
        return IOReturn.UNSUPPORTED
    request("sleep", "Software Sleep")  # IOPMSleepSystem: demand sleep, goes on by itself
    return IOReturn.SUCCESS


def _allow(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    return _client(target).answer(args.scalar_input[0], allow=True)


def _cancel(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    return _client(target).answer(args.scalar_input[0], allow=False)


def _register(target: IOUserClient, reference: Any, args: IOExternalMethodArguments) -> int:
    assert args.async_reference is not None  # the entry allows async calls only
    return _client(target).register(args.async_reference)


class RootDomainUserClient(IOUserClient2022):
    """One program's connection to the root domain."""

    user_client_properties: ClassVar[Mapping[str, Any]] = {
        **DEFAULT_LOCKING,
        kIOUserClientEntitlementsKey: False,
    }
    dispatch_table = (
        IOExternalMethodDispatch2022(None, 1, 0, 0, 0),  # 0 kPMSetAggressiveness
        IOExternalMethodDispatch2022(None, 1, 0, 1, 0),  # 1 kPMGetAggressiveness
        IOExternalMethodDispatch2022(_sleep, 0, 0, 0, 0),  # 2 kPMSleepSystem
        IOExternalMethodDispatch2022(_allow, 1, 0, 0, 0),  # 3 kPMAllowPowerChange
        IOExternalMethodDispatch2022(_cancel, 1, 0, 0, 0),  # 4 kPMCancelPowerChange
        IOExternalMethodDispatch2022(None, 0, 0, 0, 0),  # 5 kPMShutdownSystem
        IOExternalMethodDispatch2022(None, 0, 0, 0, 0),  # 6 kPMRestartSystem
        IOExternalMethodDispatch2022(None, 1, 0, 0, 0),  # 7 kPMSleepSystemOptions
        IOExternalMethodDispatch2022(_register, 0, 0, 0, 0, allow_async=True),  # 8
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # a machine's dump builds recorded ones too
        self._reference: OSAsyncReference64 | None = None
        #: Questions this program was asked and has not answered.
        self._owed: set[int] = set()

    def register(self, reference: OSAsyncReference64) -> int:
        """Send the root domain's system messages to ``reference`` from now on."""
        first = self._reference is None
        self._reference = reference
        return self.register_priority_sleep_wake_interest() if first else IOReturn.SUCCESS

    def answer(self, notification_id: int, *, allow: bool) -> int:
        if notification_id not in self._owed:
            return IOReturn.BAD_ARGUMENT  # answers no question this program was asked
        self._owed.discard(notification_id)
        if allow:
            return self.allow_power_change(notification_id)
        return self.cancel_power_change(notification_id)

    def message(self, message_type: int, provider: IOService | None,
                argument: Any = None) -> int:
        reference = self._reference
        if reference is None or self.is_inactive():
            return IOReturn.UNSUPPORTED  # not (or no longer) a client: counts as allowed
        question = isinstance(argument, IOPowerStateChangeNotification)
        notification_id = argument.power_ref if question else 0
        sent = self.send_async_result(reference, IOReturn.SUCCESS,
                                      [message_type, notification_id])
        if sent != IOReturn.SUCCESS or not question:
            return IOReturn.SUCCESS  # nothing owed: the kernel goes on
        self._owed.add(notification_id)
        argument.return_value = MAX_TIME_REQUESTED_US  # the program answers through 3 or 4
        return IOReturn.SUCCESS

    def client_died(self) -> int:
        self._release()
        return super().client_died()

    def client_close(self) -> int:
        self._release()
        return super().client_close()

    def _release(self) -> None:
        """The program is gone: allow what it owed and stop its messages."""
        self._reference = None
        for notification_id in sorted(self._owed):
            self.allow_power_change(notification_id)
        self._owed.clear()
        self.pm_stop()

