"""Opening a user client (``is_io_service_open_extended``, ``IOService::newUserClient``).

The order and the codes are IOKit's (IOKIT_SEMANTICS.md §7.1):

1. ``newUserClient``: the ``iokit_new_user_client`` hook (the service's override); when it
   gives nothing, the class named by ``IOUserClientClass``: missing is
   ``kIOReturnUnsupported``, a class not loaded ``kIOReturnNoMemory`` (``allocClassWithName``
   failed), one that is not an ``IOUserClient`` ``kIOReturnUnsupported``;
2. ``initWithTask`` refused: ``kIOReturnBadArgument``; ``attach`` or ``start`` refused:
   ``kIOReturnUnsupported``; the client is then a child of the service in the IOService plane;
3. ``IOUserClientCreator`` = ``"pid N, name"``; an ``IOUserClient2022`` without the three
   default-locking properties: ``kIOReturnError`` (a client with none of them is given
   ``IOUserClientDefaultLocking`` = true); the entitlement check (``IOUserClientEntitlements``:
   a string the task must hold, False for anyone; an ``IOUserClient2022`` without it, or any
   client with another value, is denied): ``kIOReturnNotPrivileged``, which wins over the
   ``kIOReturnError`` of the locking check;
4. on a failure after the client exists: ``clientClose`` and release, so it leaves.

Exclusive access is the family policy of :attr:`IOUserClient.exclusive` (the provider's
single-owner ``open``): a second open while one is open is ``kIOReturnExclusiveAccess``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iokit_sdk import keys
from iokit_sdk.returns import IOReturn
from iokit_sdk.userclient import (
    IOUserClient,
    IOUserClient2022,
    OwningTask,
    kIOUserClientCreatorKey,
    kIOUserClientDefaultLockingKey,
    kIOUserClientDefaultLockingSetPropertiesKey,
    kIOUserClientDefaultLockingSingleThreadExternalMethodKey,
    kIOUserClientEntitlementsKey,
)

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.driver_calls import DriverFault, described
from iokit_host.kernel.driver_results import plain_int, short_repr

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["check_entitlements", "make_user_client", "release_client", "start_user_client"]

_LOCKING_KEYS = (kIOUserClientDefaultLockingKey, kIOUserClientDefaultLockingSetPropertiesKey,
                 kIOUserClientDefaultLockingSingleThreadExternalMethodKey)


def make_user_client(kernel: WorkLoop, service: IOService, task: OwningTask,
                     type: int) -> IOUserClient | int:
    """Step 1: a new, unattached client, or the IOReturn that refuses the open."""
    made = kernel.driver_calls.call(kernel.hook.iokit_new_user_client, service=service,
                                    owning_task=task, security_id=task, type=type,
                                    properties=None)
    if isinstance(made, DriverFault):
        _report(kernel, service, made.reference("user-client-new-raised"),
                made.reason(f"new_user_client of {described(service)}"))
        return IOReturn.INTERNAL_ERROR
    if made is None:
        return _from_class(kernel, service)
    if isinstance(made, IOUserClient):
        return made if not made.is_inactive() else _reused(kernel, service, made)
    code = plain_int(made)  # the driver's value: an int subclass's own methods never run
    if code is not None and code != IOReturn.SUCCESS:
        return code & 0xFFFFFFFF
    _report(kernel, service, "user-client-new-invalid",
            f"new_user_client of {described(service)} returned {short_repr(made)}, not an "
            "IOUserClient or an IOReturn code")
    return IOReturn.INTERNAL_ERROR


def _reused(kernel: WorkLoop, service: IOService, client: IOUserClient) -> int:
    """A client a closed connection already terminated (a driver that keeps its client and
    hands it out again): attached anew it would open a connection whose every call is
    ``kIOReturnBadArgument`` and stay in the registry inactive for ever after its close."""
    _report(kernel, service, "user-client-new-invalid",
            f"new_user_client of {described(service)} returned {described(client)}, which "
            "a closed connection already terminated; make a new user client for each open")
    return IOReturn.INTERNAL_ERROR


def _from_class(kernel: WorkLoop, service: IOService) -> IOUserClient | int:
    name = service.get_property(keys.USER_CLIENT_CLASS)
    if not isinstance(name, str):
        return IOReturn.UNSUPPORTED
    cls = kernel.classes.lookup(name)
    if cls is None:
        return IOReturn.NO_MEMORY
    if not issubclass(cls, IOUserClient):
        return IOReturn.UNSUPPORTED
    made = kernel.driver_calls.call(cls)
    if isinstance(made, DriverFault):
        _report(kernel, service, made.reference("user-client-new-raised"),
                made.reason(f"{name}()"))
        return IOReturn.NO_MEMORY
    return made  # type: ignore[no-any-return]


def start_user_client(kernel: WorkLoop, client: IOUserClient, service: IOService,
                      task: OwningTask, type: int) -> int:
    """Step 2: ``init_with_task``, attach under ``service``, start; releases on failure."""
    calls = kernel.driver_calls
    client._kernel = kernel
    initialised = calls.call(client.init_with_task, task, task, type, None)
    if initialised is not True:
        _fault(kernel, client, initialised, "init_with_task")
        release_client(kernel, client, service)
        return IOReturn.BAD_ARGUMENT
    if not kernel.attach(client, service):
        release_client(kernel, client, service)
        return IOReturn.UNSUPPORTED
    started = calls.call(kernel.hook.iokit_start, service=client, provider=service)
    if started is not True:
        _fault(kernel, client, started, "start")
        release_client(kernel, client, service)
        return IOReturn.UNSUPPORTED
    client.set_property(kIOUserClientCreatorKey, task.creator)
    return IOReturn.SUCCESS


def check_entitlements(kernel: WorkLoop, client: IOUserClient, task: OwningTask) -> int:
    """Step 3, in ``is_io_service_open_extended``'s order (xnu-8792 to xnu-11417 alike).

    The default-locking properties first: an ``IOUserClient2022`` missing any of the three
    makes the result ``kIOReturnError``; a client that sets none of them is given
    ``IOUserClientDefaultLocking`` = true, as the kernel sets it (the exception, a kext
    linking IOSurface, is not modelled). Then ``IOUserClientEntitlements``, whose refusal
    (``kIOReturnNotPrivileged``) replaces that ``kIOReturnError``, as xnu assigns it after.
    """
    is_2022 = isinstance(client, IOUserClient2022)
    present = [client.has_property(key) for key in _LOCKING_KEYS]
    result = IOReturn.ERROR if is_2022 and not all(present) else IOReturn.SUCCESS
    if not any(present):
        client.set_property(kIOUserClientDefaultLockingKey, True)
    wanted = client.get_property(kIOUserClientEntitlementsKey)
    if wanted is False:
        return result
    if isinstance(wanted, str):
        return result if task.has_entitlement(wanted) else IOReturn.NOT_PRIVILEGED
    if wanted is None:
        return IOReturn.NOT_PRIVILEGED if is_2022 else result
    # xnu refuses an IOUserClient2022 here (and logs it); for an older client it reads the
    # value as a string it is not, a kernel panic: refused here too, and said.
    _report(kernel, client, "user-client-entitlements-invalid",
            f"{described(client)} sets {kIOUserClientEntitlementsKey} to "
            f"{short_repr(wanted)}, neither an entitlement's name nor false",
            severity=Severity.WARNING)
    return IOReturn.NOT_PRIVILEGED


def release_client(kernel: WorkLoop, client: IOUserClient, service: IOService) -> None:
    """Take a client that will not be used out of the registry (``release``): terminate it
    when attached, else free it."""
    if client.is_inactive():
        return  # terminated already (its client_close): termination phase 3 freed it
    if client.get_provider() is not None:
        kernel.terminate(client)
        return
    kernel.driver_calls.call_discarding(kernel.hook.iokit_free, service=client)


def _fault(kernel: WorkLoop, client: IOUserClient, result: object, call: str) -> None:
    if isinstance(result, DriverFault):
        _report(kernel, client, result.reference(f"user-client-{call.replace('_', '-')}-raised"),
                result.reason(f"{call} of {described(client)}"))


def _report(kernel: WorkLoop, subject: IOService, reference: str, message: str,
            severity: Severity = Severity.ERROR) -> None:
    kernel.report(Diagnostic(reference, message, subject=subject.iokit_class_name,
                             hint="the open failed; the kernel and other clients go on",
                             severity=severity))

