"""The kernel objects a driver process was shown, and its registry questions about them.

A dext holds send rights to the kernel objects it was given (its provider, the services a
notification delivered, a ``message`` argument); ``CopyProperties`` on one is an RPC the
kernel answers from the object itself. Here each :class:`~iokit_host.dext.process.DriverProcess`
has a :class:`KernelObjects` table numbering the kernel objects that crossed to it: the first
time one crosses, its spec carries its class chain, name, location, path and a copy of its
properties; afterwards only its number. The table holds the objects weakly, so a freed service
answers nothing (the process then falls back to its copy). :func:`answer` serves a process's
``registry`` questions: ``get_property``, ``copy_properties``, ``get_provider``.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Mapping
from typing import Any

from iokit_sdk.keys import SERVICE_PLANE
from iokit_sdk.service import IOService

from iokit_host.errors import quoted
from iokit_host.registry.path import get_path

__all__ = ["KernelObjects", "Refused", "answer"]


class Refused(Exception):
    """A registry question that does not read."""


class KernelObjects:
    """One driver process's numbers for kernel objects (its send rights)."""

    def __init__(self) -> None:
        self._objects: weakref.WeakValueDictionary[int, IOService] = \
            weakref.WeakValueDictionary()
        # By id, checked against the weak table: a provider crosses with every forwarded
        # call, and a WeakKeyDictionary lookup makes a weak reference each time.
        self._numbers: dict[int, int] = {}
        self._next = itertools.count(1)

    def spec(self, registry: Any, service: IOService) -> dict[str, Any]:
        """``service`` as it crosses: its number, plus its description the first time."""
        number = self._numbers.get(id(service))
        if number is not None and self._objects.get(number) is service:
            return {"kobj": number}
        number = next(self._next)
        if len(self._numbers) > 2 * len(self._objects) + 64:  # drop the freed ones' ids
            self._numbers = {id(o): n for n, o in list(self._objects.items())}
        self._numbers[id(service)] = number  # an id reused after a free is renumbered
        self._objects[number] = service
        return {"kobj": number, "chain": list(service.class_chain), "name": service.get_name(),
                "location": service.get_location(),
                "path": get_path(registry, service, SERVICE_PLANE),
                "props": dict(service.properties)}

    def get(self, number: Any) -> IOService | None:
        """The object numbered ``number``; None once freed, or for a number never given."""
        return self._objects.get(number) if type(number) is int else None


def answer(objects: KernelObjects, registry: Any, question: Mapping[str, Any]) -> Any:
    """The kernel's answer to one ``registry`` question about an object it showed the process.

    :raises Refused: an unknown question, or arguments that do not read.
    """
    method = question.get("method")
    if method not in ("get_property", "copy_properties", "get_provider"):
        raise Refused(f"asked the registry for {quoted(method)}")
    service = objects.get(question.get("kobj"))
    if service is None:
        return {"gone": True}  # freed, or never given: the process keeps its copy
    if method == "get_property":
        key = question.get("key")
        if not isinstance(key, str):
            raise Refused(f"a property key of type {type(key).__name__}")
        if not service.has_property(key):
            return {"found": False}
        return {"found": True, "value": service.get_property(key)}
    if method == "copy_properties":
        return {"props": service.copy_properties()}
    provider = service.get_provider()
    return {"object": objects.spec(registry, provider) if provider is not None else None}
