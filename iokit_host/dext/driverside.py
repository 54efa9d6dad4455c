"""What a driver sees inside its server process: the dext's side of ``IOUserServer``.

A dext's classes are the kext's own Python classes, unchanged: the same ``IOService``
subclasses with the same ``probe``/``start``/``stop``. Here they run against
:class:`UserKernel`, a stand-in for the kernel that records what the driver asks for
(``attach`` and ``register_service`` of the nubs it publishes, ``terminate``,
``publish_resource``) so the server can send it back with the call's reply, as a dext's
``RegisterService`` and ``SetProperties`` cross into the kernel. The provider a driver is given
is a :func:`provider_stub`: an object of the provider's class chain carrying a copy of its
properties (a DriverKit ``IOService`` proxy of the kernel's object).
"""

from __future__ import annotations

import importlib
from typing import Any

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.service import IOService

__all__ = ["ObjectTable", "UserKernel", "find_classes", "provider_stub", "stand_in_class"]

_STUB_CLASSES: dict[tuple[str, ...], type[IOService]] = {}


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


def provider_stub(chain: list[str], name: str, location: str | None,
                  props: dict[str, Any]) -> IOService:
    """A stand-in for the kernel's provider: its class chain (for ``meta_cast``), name and
    properties."""
    key = tuple(chain)
    cls = _STUB_CLASSES.get(key)
    if cls is None:
        cls = IOService
        for class_name in reversed([c for c in chain if c not in IOService.class_chain]):
            cls = type(class_name, (cls,), {"__module__": __name__,
                                            "iokit_class_name": class_name})
        _STUB_CLASSES[key] = cls
    return cls(props, name=name, location=location)


class _NoPower:
    """Power requests from a driver process are accepted and not acted on (not modelled)."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: 0


class UserKernel:
    """The kernel as a driver process sees it: requests are recorded for the reply."""

    def __init__(self, table: ObjectTable) -> None:
        self.table = table
        self.published: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.power = _NoPower()

    def attach(self, service: IOService, provider: IOService) -> bool:
        self.table.parents[id(service)] = provider
        service._kernel = self
        return True

    def detach(self, service: IOService, provider: IOService) -> None:
        self.table.parents.pop(id(service), None)

    def register_service(self, service: IOService, options: int = 0) -> None:
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


class ObjectTable:
    """The driver objects of one server by the kernel's object number, and what was last sent
    of each one's properties (replies carry only what changed)."""

    def __init__(self) -> None:
        self.objects: dict[int, IOService] = {}
        self.ids: dict[int, int] = {}
        self.parents: dict[int, IOService] = {}
        self.sent: dict[int, dict[str, Any]] = {}

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
        now = dict(service.properties)
        before = self.sent.get(obj, {})
        if now == before:
            return {}, []
        changed = {k: v for k, v in now.items() if k not in before or before[k] is not v
                   and before[k] != v}
        removed = [k for k in before if k not in now]
        self.sent[obj] = now
        return changed, removed
