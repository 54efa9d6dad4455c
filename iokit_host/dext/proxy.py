"""The kernel's side of a dext: ``IOUserService``, ``IOUserServer`` and ``IOUserResources``.

``IOUserService`` is the kernel object IOKit instantiates for a dext personality: its
``start`` is the dext's ``Start`` over RPC. Here its lifecycle methods forward to the driver
process through the kernel's :class:`~iokit_host.dext.manager.DextManager`; the kernel calls
them through its pluggy hooks as for any driver, so host plugins see every call that crosses.
A family's proxy class (``AppleUserHIDEventService``) and an isolated kext's ``IOClass`` are
subclasses named after it (:func:`proxy_class`). ``IOUserServer`` is the registry entry of one
running server (``IOUserServer(<name>-0x<tag>)`` at the top of the IOService plane), and
``IOUserResources`` the nub dexts match on when they need no device.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from iokit_sdk.pm import IOPowerStateChangeNotification
from iokit_sdk.returns import IOReturn
from iokit_sdk.service import IOService
from iokit_sdk.userclient import IOExternalMethodArguments, IOExternalMethodDispatch, IOUserClient

if TYPE_CHECKING:
    from iokit_host.dext.manager import DextManager
    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["DextObject", "IOUserResources", "IOUserServer", "IOUserService", "IOUserUserClient",
           "become_informed", "nub_class", "proxy_class"]

_UNSUPPORTED = 0xE00002C7

_PROXIES: dict[str, type[IOUserService]] = {}
_NUBS: dict[tuple[str, ...], type[IOService]] = {}


class _Forwarded:
    """The lifecycle of an object living in a driver process, forwarded (a mixin)."""

    dext_server: str | None
    dext_obj: int | None
    dext_personality: dict[str, Any]
    _manager: DextManager | None

    def _init_dext(self) -> None:
        #: The server name, and the object's number in that server.
        self.dext_server = None
        self.dext_obj = None
        self.dext_personality = {}
        self._manager = None

    def _dexts(self) -> DextManager:
        manager = self._manager
        if manager is None:
            from iokit_host.dext.manager import manager_for

            service = cast("IOService", self)
            kernel = cast("WorkLoop", service._require_kernel())  # the host's kernel, always
            manager = self._manager = manager_for(kernel)
        return manager

    def _me(self) -> DextObject:
        return cast("DextObject", self)

    # Whatever the driver returned travels back as is: the kernel reads it (driver_results),
    # as it reads an in-kernel driver's.
    def probe(self, provider: IOService, score: int) -> int | None:
        return cast("int | None", self._dexts().probe(self._me(), provider, score))

    def start(self, provider: IOService) -> bool:
        return cast("bool", self._dexts().start(self._me(), provider))

    def stop(self, provider: IOService) -> None:
        self._dexts().forward(self._me(), "stop", provider, [], None)

    def will_terminate(self, provider: IOService, options: int) -> bool:
        return self._dexts().forward(self._me(), "will_terminate", provider, [options],
                                     True) is not False

    def did_terminate(self, provider: IOService, options: int) -> bool:
        return self._dexts().forward(self._me(), "did_terminate", provider, [options],
                                     True) is not False

    def message(self, message_type: int, provider: IOService | None, argument: Any = None) -> int:
        """``message`` in the driver process. A system power question's
        ``IOPowerStateChangeNotification`` crosses as its fields, and the µs the driver asks
        for (``return_value``) come back into it; a service crosses as a kernel object (a
        proxy there), a registry value as itself; other arguments do not cross (reported, the
        driver gets None)."""
        notice = argument if isinstance(argument, IOPowerStateChangeNotification) else None
        if notice is not None:
            sent: Any = {"power_notice": dataclasses.asdict(notice)}
        else:
            manager = self._dexts()
            sent = manager.upcalls.message_argument(manager.live_record(self._me()), argument)
        result = self._dexts().forward(self._me(), "message", provider, [message_type, sent],
                                       _UNSUPPORTED)
        if isinstance(result, dict):  # the driver's answer to a power question
            wants = result.get("return_value")
            if notice is not None and type(wants) is int and wants >= 0:
                notice.return_value = wants
            result = result.get("result")
        return result if type(result) is int else _UNSUPPORTED

    def free(self) -> None:
        if cast("IOService", self)._kernel is not None:
            self._dexts().free(self._me())


class IOUserService(_Forwarded, IOService):
    """A driver running in a driver process, as the kernel's registry holds it."""

    iokit_class_name = "IOUserService"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_dext()

    def init(self, properties: Mapping[str, Any]) -> bool:
        self.dext_personality = dict(properties)
        return super().init(properties)

    def set_power_state(self, ordinal: int, device: IOService) -> int:
        """``SetPowerState`` in the driver process. What the driver returned comes back: 0
        (``kIOPMAckImplied``), or the µs it needs, after which its
        ``acknowledge_set_power_state`` crosses to the kernel as any power request does. A
        process that dies answering acknowledges by dying (``kIOPMAckImplied``)."""
        result = self._dexts().forward(self, "set_power_state", None, [ordinal], 0)
        return result if type(result) is int and 0 < result <= 0xFFFFFFFF else 0

    def new_user_client(self, owning_task: Any, security_id: Any, type: int,
                        properties: Mapping[str, Any] | None) -> Any:
        """``NewUserClient`` in the driver process: an :class:`IOUserUserClient` standing for
        the user client made there, or the IOReturn that refused the open."""
        from iokit_host.dext.userclients import new_user_client

        return new_user_client(self._dexts(), self, owning_task, type, properties)


class IOUserUserClient(_Forwarded, IOUserClient):
    """A dext's user client as the kernel holds it (``IOUserUserClient``): a program's calls
    reach the user client object in the driver process through it."""

    iokit_class_name = "IOUserUserClient"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_dext()

    def external_method(self, selector: int, arguments: IOExternalMethodArguments,
                        dispatch: IOExternalMethodDispatch | None = None,
                        target: Any = None, reference: Any = None) -> int:
        from iokit_host.dext.userclients import external_method as forward_call

        return forward_call(self._dexts(), self, selector, arguments)

    def client_close(self) -> int:
        result = self._dexts().forward(self, "client_close", None, [], IOReturn.SUCCESS)
        if not self.is_inactive():
            self.terminate()
        return result if isinstance(result, int) else IOReturn.SUCCESS

    def client_died(self) -> int:
        result = self._dexts().forward(self, "client_died", None, [], IOReturn.SUCCESS)
        return result if isinstance(result, int) else IOReturn.SUCCESS

    def client_memory_for_type(self, type: int) -> Any:
        """``CopyClientMemoryForType`` in the driver process: its buffer, the same pages the
        program then maps (:mod:`iokit_host.dext.memory`), or an IOReturn."""
        from iokit_host.dext.userclients import client_memory

        return client_memory(self._dexts(), self, type)


#: An object living in a driver process, as the kernel holds it.
DextObject = IOUserService | IOUserUserClient


class _Informed:
    """A driver process whose class overrides ``power_state_will_change_to`` or
    ``power_state_did_change_to``: the kernel's notifications cross, so the power manager
    treats the proxy as it would treat that driver (an interested driver)."""

    __slots__ = ()

    def power_state_will_change_to(self, capabilities: int, ordinal: int,
                                   device: IOService) -> int:
        return _informed(self, "power_state_will_change_to", capabilities, ordinal, device)

    def power_state_did_change_to(self, capabilities: int, ordinal: int,
                                  device: IOService) -> int:
        return _informed(self, "power_state_did_change_to", capabilities, ordinal, device)


def _informed(proxy: Any, method: str, capabilities: int, ordinal: int,
              device: IOService) -> int:
    result = cast("_Forwarded", proxy)._dexts().forward(
        cast("DextObject", proxy), method, device, [capabilities, ordinal], 0)
    return result if type(result) is int and 0 <= result <= 0xFFFFFFFF else 0


_INFORMED: dict[type, type] = {}


def become_informed(proxy: IOUserService) -> None:
    """The driver in the process overrides the power notifications: from now on the proxy
    forwards them (its class becomes a subclass with the same IOKit name)."""
    cls = type(proxy)
    if issubclass(cls, _Informed):
        return
    informed = _INFORMED.get(cls)
    if informed is None:
        informed = type(cls.__name__, (_Informed, cls), {
            "__module__": __name__, "iokit_class_name": cls.iokit_class_name})
        _INFORMED[cls] = informed
    proxy.__class__ = informed


class IOUserServer(IOService):
    """One driver process in the registry (``IOUserServer``)."""

    iokit_class_name = "IOUserServer"


class IOUserResources(IOService):
    """The nub a dext with no device matches on (``IOUserResources``)."""

    iokit_class_name = "IOUserResources"


def proxy_class(io_class: str) -> type[IOUserService]:
    """The kernel class for ``IOClass`` ``io_class``: ``IOUserService`` itself, or a subclass
    carrying the family's (or isolated kext's) class name."""
    if io_class == IOUserService.iokit_class_name:
        return IOUserService
    cls = _PROXIES.get(io_class)
    if cls is None:
        cls = type(io_class, (IOUserService,), {"__module__": __name__,
                                                 "iokit_class_name": io_class})
        _PROXIES[io_class] = cls
    return cls


def nub_class(chain: list[str]) -> type[IOService]:
    """A kernel-side class for a nub a driver process published, with its class chain (what
    ``IOProviderClass`` matching reads)."""
    key = tuple(chain)
    cls = _NUBS.get(key)
    if cls is None:
        cls = IOService
        for name in reversed([c for c in chain if c not in IOService.class_chain]):
            cls = type(name, (cls,), {"__module__": __name__, "iokit_class_name": name})
        _NUBS[key] = cls
    return cls
