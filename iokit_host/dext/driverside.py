"""What a driver sees inside its server process: the dext's side of ``IOUserServer``.

A dext's classes are the kext's own Python classes, unchanged: the same ``IOService``
subclasses with the same ``probe``/``start``/``stop``. Here they run against
:class:`UserKernel`, a stand-in for the kernel that records what the driver asks for
(``attach`` and ``register_service`` of the nubs it publishes, ``terminate``,
``publish_resource``) so the server can send it back with the call's reply, as a dext's
``RegisterService`` and ``SetProperties`` cross into the kernel; power requests cross at once
(:class:`UserPower`). The provider a driver is given
is a :class:`~iokit_host.dext.remote.KernelService`, a DriverKit ``IOService`` proxy of the
kernel's object whose property reads cross to the kernel; matching notifications a driver
installs cross too and arrive as ``note`` messages (:meth:`UserKernel.deliver`).
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
from collections.abc import Callable, Mapping
from typing import Any

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.keys import SERVICE_PLANE
from iokit_sdk.power import IOPMPowerState
from iokit_sdk.service import IOService
from iokit_sdk.values import PropertyTypeError, check_value

from iokit_host.dext.remote import KernelService

__all__ = ["NOTIFICATION_KINDS", "POWER_METHODS", "ObjectTable", "UserKernel", "UserNotifier",
           "UserPower", "find_classes", "link_provider", "stand_in_class"]

def find_classes(package: str | None) -> dict[str, type[IORegistryEntry]]:
    """The IOKit classes ``package`` defines or exports, by IOKit class name (as the kernel's
    kext loader finds them). Importing runs the driver's module code: it may raise or exit."""
    if not package:
        return {}
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    names = list(exported) if isinstance(exported, (list, tuple)) else list(vars(module))
    found: dict[str, type[IORegistryEntry]] = {}
    for name in names:
        value = getattr(module, name, None)
        if isinstance(value, type) and issubclass(value, IORegistryEntry) \
                and not value.__module__.startswith(("iokit_sdk", "iokit_host")):
            found.setdefault(value.iokit_class_name, value)
    return found


def stand_in_class(name: str) -> type[IOService]:
    """An empty driver class named ``name``: a codeless dext's ``IOUserClass``."""
    return type(name, (IOService,), {"__module__": __name__, "iokit_class_name": name})


#: The power requests that cross to the kernel's power manager (``PowerRequests``).
POWER_METHODS = frozenset({
    "pm_init", "pm_stop", "join_pm_tree", "register_power_driver",
    "acknowledge_set_power_state", "register_interested_driver",
    "deregister_interested_driver", "acknowledge_power_change", "change_power_state_to",
    "change_power_state_to_priv", "make_usable", "activity_tickle", "set_idle_timer_period",
    "temporary_power_clamp_on", "get_power_state", "register_priority_sleep_wake_interest",
    "allow_power_change", "cancel_power_change"})
_NOT_RESPONDING = 0xE00002ED
#: What :meth:`ObjectTable.changed_properties` gives when nothing changed (read, never filled).
_UNCHANGED: tuple[dict[str, Any], list[str]] = ({}, [])


class UserPower:
    """The kernel's power manager as a driver process sees it: every request crosses to the
    kernel (a ``kcall``) and returns the kernel's answer, as DriverKit's ``ChangePowerState``
    is an RPC. Services travel as their object numbers, the provider stub as ``provider``
    (the kernel uses the proxy's real provider), power-state tables as their fields."""

    def __init__(self, table: ObjectTable, request: Callable[[dict[str, Any]], Any]) -> None:
        self.table = table
        self.request = request

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name not in POWER_METHODS:
            raise AttributeError(name)

        def call(*args: Any) -> Any:
            answer = self.request({"method": name, "args": [self._encode(a) for a in args]})
            if isinstance(answer, (bool, int)):
                return answer
            return False if name == "activity_tickle" else _NOT_RESPONDING
        return call

    def _encode(self, value: Any) -> Any:
        if isinstance(value, KernelService) and value.kernel_object:
            return {"kobj": value.kernel_object}  # the kernel's own object
        if isinstance(value, IOService):
            obj = self.table.ids.get(id(value))
            if obj is not None:
                return {"obj": obj}
            return {"provider": True} if id(value) in self.table.stubs else None
        if isinstance(value, (list, tuple)):
            return {"states": [dataclasses.asdict(state) if isinstance(state, IOPMPowerState)
                               else None for state in value]}
        return value if isinstance(value, (bool, int)) or value is None else None


#: The matching notification kinds (the kernel's ``NOTIFICATION_TYPES``; not imported: the
#: kernel's matching code stays out of a driver process's start-up).
NOTIFICATION_KINDS = ("publish", "first_publish", "matched", "first_match", "terminated")


class UserNotifier:
    """A matching notification a driver process installed (a dext's
    ``IOServiceNotificationDispatchSource``); :meth:`remove` crosses to the kernel."""

    def __init__(self, number: int, handler: Callable[..., object],
                 cancel: Callable[[int], None], target: IOService | None = None) -> None:
        self.number = number
        self.handler = handler
        self._cancel = cancel
        #: The service an interest notifier listens to (None for a matching notifier).
        self.target = target
        self.removed = False

    def remove(self) -> None:
        if not self.removed:
            self.removed = True
            self._cancel(self.number)


class UserKernel:
    """The kernel as a driver process sees it: registry requests are recorded for the reply;
    power requests and notification installs cross at once (:class:`UserPower`, ``ask``)."""

    def __init__(self, table: ObjectTable,
                 request: Callable[[dict[str, Any]], Any] | None = None,
                 ask: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.table = table
        self.published: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.power = UserPower(table, request or (lambda message: None))
        self._ask = ask or (lambda message: None)
        self.notifiers: dict[int, UserNotifier] = {}
        self._numbers = itertools.count(1)

    def attach(self, service: IOService, provider: IOService) -> bool:
        self.table.parents[id(service)] = provider
        service._kernel = self
        link_provider(service, provider)
        return True

    def detach(self, service: IOService, provider: IOService) -> None:
        self.table.parents.pop(id(service), None)

    # -- notifications (IOServiceNotificationDispatchSource) --------------------------------------
    def add_matching_notification(self, kind: str, matching: Mapping[str, Any],
                                  handler: Callable[[IOService], None],
                                  priority: int = 0) -> UserNotifier:
        """Install a notifier in the kernel; its deliveries arrive as ``note`` messages,
        services already qualifying first; each handler runs when the process is free (after
        the call that installed it), as a dext's dispatch queue runs one item at a time.

        :raises ValueError: an unknown ``kind``, or the kernel refused the notification.
        """
        if kind not in NOTIFICATION_KINDS:
            raise ValueError(f"unknown notification type {kind!r}; "
                             f"one of {', '.join(NOTIFICATION_KINDS)}")
        notifier = UserNotifier(next(self._numbers), handler, self._cancel)
        self.notifiers[notifier.number] = notifier  # deliveries may come before the answer
        answer = self._ask({"method": "add_notification", "id": notifier.number,
                            "type": kind, "matching": dict(matching), "priority": priority})
        if isinstance(answer, dict) and isinstance(answer.get("refused"), str):
            self.notifiers.pop(notifier.number, None)
            notifier.removed = True
            raise ValueError(f"the kernel refused the notification: {answer['refused']}")  # noqa: TRY004 - a refusal, as an unknown kind is
        return notifier

    def register_interest(self, service: IOService,
                          handler: Callable[[int, IOService, Any], object]) -> UserNotifier:
        """Interest in ``service`` (a kernel object's proxy, or one of this process's
        objects): its messages arrive as ``note`` messages of kind ``interest``.

        :raises ValueError: ``service`` is neither, or the kernel refused.
        """
        target = self._target(service)
        if target is None:
            raise ValueError(f"{service!r} is not an object the kernel knows")
        notifier = UserNotifier(next(self._numbers), handler, self._cancel, service)
        self.notifiers[notifier.number] = notifier
        answer = self._ask({"method": "add_interest", "id": notifier.number,
                            "target": target})
        if isinstance(answer, dict) and isinstance(answer.get("refused"), str):
            self.notifiers.pop(notifier.number, None)
            notifier.removed = True
            raise ValueError(f"the kernel refused the notification: {answer['refused']}")  # noqa: TRY004 - a refusal, as an unknown object is
        return notifier

    def message_clients(self, service: IOService, message_type: int,
                        argument: Any = None) -> None:
        """``messageClients`` on one of this process's objects: done by the kernel on its
        proxy (its clients there, its interest notifiers); the argument crosses as a
        registry value or a kernel object, else as None."""
        obj = self.table.ids.get(id(service))
        if obj is None:
            raise ValueError(f"{service!r} is not one of this process's objects")
        if isinstance(argument, KernelService) and argument.kernel_object:
            sent: Any = {"kobj": argument.kernel_object}
        else:
            sent = {"value": argument} if argument is None or _is_value(argument) else None
        self._ask({"method": "message_clients", "obj": obj, "message": message_type,
                   "argument": sent})

    def _target(self, service: IOService) -> dict[str, int] | None:
        if isinstance(service, KernelService) and service.kernel_object:
            return {"kobj": service.kernel_object}
        obj = self.table.ids.get(id(service))
        return {"obj": obj} if obj is not None else None

    def deliver(self, number: Any, service: IOService | None, *message: Any) -> None:
        """A notification arrived: its handler runs (what it raises is the process's crash,
        as a dext's handler block's fault is). An interest notification carries
        ``(message_type, argument)`` and goes to ``handler(type, target, argument)``."""
        notifier = self.notifiers.get(number) if type(number) is int else None
        if notifier is None or notifier.removed:
            return
        if notifier.target is not None and len(message) == 2:
            notifier.handler(message[0], notifier.target, message[1])
        elif notifier.target is None and service is not None:
            notifier.handler(service)

    def _cancel(self, number: int) -> None:
        self.notifiers.pop(number, None)
        self._ask({"method": "remove_notification", "id": number})

    def register_service(self, service: IOService, options: int = 0) -> None:
        obj = self.table.ids.get(id(service))
        if obj is not None:  # the driver itself (DriverKit's RegisterService): the kernel's
            self.requests.append({"op": "register_service", "obj": obj})  # proxy is published
            return
        provider = self.table.parents.get(id(service))
        owner = self.table.ids.get(id(provider)) if provider is not None else None
        if owner is None:
            return  # a nub not attached to one of this server's drivers: nothing to publish
        self.published.append({
            "provider": owner, "chain": list(service.class_chain),
            "name": service.get_name(), "location": service.get_location(),
            "props": dict(service.properties)})

    def terminate(self, service: IOService, options: int = 0) -> bool:
        obj = self.table.ids.get(id(service))
        if obj is not None:
            self.requests.append({"op": "terminate", "obj": obj, "options": options})
        return True

    def publish_resource(self, key: str, value: Any = None) -> None:
        self.requests.append({"op": "publish_resource", "key": key, "value": value})

    def take(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        published, requests = self.published, self.requests
        self.published, self.requests = [], []
        return published, requests


def _is_value(value: Any) -> bool:
    try:
        check_value(value, "argument")
    except PropertyTypeError:
        return False
    return True


def link_provider(service: IOService, provider: IOService) -> None:
    """Record ``provider`` as ``service``'s provider in this process, so ``get_provider`` and
    the provider's ``get_clients`` answer here as in the kernel (the process's registry is
    only these links)."""
    parents = service._parents
    if parents is not None and parents.get(SERVICE_PLANE, (None,))[0] is provider:
        return  # probe, then start: linked already
    service._parents = {SERVICE_PLANE: [provider]}
    if not isinstance(provider, KernelService):  # a kernel object's clients are the kernel's
        children = provider._children if provider._children is not None else {}
        siblings = children.setdefault(SERVICE_PLANE, [])
        if service not in siblings:
            siblings.append(service)
        provider._children = children


class ObjectTable:
    """The driver objects of one server by the kernel's object number, and what was last sent
    of each one's properties (replies carry only what changed)."""

    def __init__(self) -> None:
        self.objects: dict[int, IOService] = {}
        self.ids: dict[int, int] = {}
        self.parents: dict[int, IOService] = {}
        self.sent: dict[int, dict[str, Any]] = {}
        #: The provider stubs handed to drivers, by ``id`` (they stand for kernel objects).
        self.stubs: dict[int, IOService] = {}

    def add(self, obj: int, service: IOService) -> None:
        self.objects[obj] = service
        self.ids[id(service)] = obj
        self.sent[obj] = {}

    def remove(self, obj: int) -> None:
        service = self.objects.pop(obj, None)
        if service is not None:
            self.ids.pop(id(service), None)
        self.sent.pop(obj, None)

    def changed_properties(self, obj: int) -> tuple[dict[str, Any], list[str]]:
        """Properties set or changed since the last reply, and those removed."""
        service = self.objects.get(obj)
        if service is None:
            return {}, []
        before = self.sent.get(obj, {})
        # Compared in place (the table itself, not a read-only view of it made per call):
        # most calls change nothing.
        if service._props == before:
            return _UNCHANGED
        now = dict(service._props)
        changed = {k: v for k, v in now.items() if k not in before or before[k] is not v
                   and before[k] != v}
        removed = [k for k in before if k not in now]
        self.sent[obj] = now
        return changed, removed
