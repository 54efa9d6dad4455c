"""Kernel objects as a driver process sees them: DriverKit's ``IOService`` proxies.

In a dext the provider ``Start`` receives is not the kernel's object but a proxy of it (an
``OSObject`` backed by a send right), and its ``CopyProperties`` is an RPC into the kernel.
Here a kernel object that crosses (a provider, a service a notification delivers, a
``message`` argument) becomes a :class:`KernelService` of the object's class chain (so
``meta_cast`` works), with its name, location and path as they were when it first crossed.
Property reads (``get_property``, ``has_property``, ``copy_properties``, ``properties``) and
``get_provider`` cross to the kernel each time and answer its current state; only when the
kernel cannot answer (it is gone, or the object was freed) does the copy taken when the object
first crossed answer. A property set on a proxy stays in the process (IOKit's ``IOService``
refuses ``setProperties`` from a dext unless the class takes them).

:class:`RemoteObjects` is the process's table of them, by the kernel's number for each object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from iokit_sdk.keys import SERVICE_PLANE
from iokit_sdk.service import IOService

__all__ = ["KernelService", "RemoteObjects", "kernel_class"]

#: Asks the kernel one registry question (a ``kcall`` of kind ``registry``): its answer, or
#: something that is not a dict when there is none.
Ask = Callable[[dict[str, Any]], Any]
_MISSING = object()
_CLASSES: dict[tuple[str, ...], type[KernelService]] = {}


class KernelService(IOService):
    """A kernel object in a driver process (an ``IOService`` proxy)."""

    iokit_class_name = "IOService"

    def __init__(self, properties: Mapping[str, Any] | None = None, *, name: str | None = None,
                 location: str | None = None) -> None:
        super().__init__(properties, name=name, location=location)
        #: The kernel's number for the object in this process; 0 for none (a bare stand-in).
        self.kernel_object = 0
        self._path: str | None = None
        self._ask: Ask | None = None
        self._objects: RemoteObjects | None = None

    def _question(self, method: str, **fields: Any) -> dict[str, Any] | None:
        if self._ask is None or not self.kernel_object:
            return None
        answer = self._ask({"method": method, "kobj": self.kernel_object, **fields})
        return answer if isinstance(answer, dict) else None

    # -- properties: read in the kernel ------------------------------------------------------
    def get_property(self, key: str, default: Any = None) -> Any:
        answer = self._question("get_property", key=key)
        if answer is None:
            return super().get_property(key, default)
        return answer["value"] if answer.get("found") is True else default

    def has_property(self, key: str) -> bool:
        return self.get_property(key, _MISSING) is not _MISSING

    def copy_properties(self) -> dict[str, Any]:
        answer = self._question("copy_properties")
        props = answer.get("props") if answer is not None else None
        return dict(props) if isinstance(props, dict) else super().copy_properties()

    @property
    def properties(self) -> Mapping[str, Any]:
        return MappingProxyType(self.copy_properties())

    # -- where it is ---------------------------------------------------------------------------
    def get_path(self, plane: str = SERVICE_PLANE) -> str | None:
        """Its registry path in the IOService plane (``IOService:/...``), as the kernel gave
        it when it first crossed (the process has not its ancestors); None for another
        plane."""
        return self._path if plane == SERVICE_PLANE else None

    def get_provider(self) -> IOService | None:
        """Its provider in the kernel, as another proxy; None at the root or when the kernel
        does not answer."""
        answer = self._question("get_provider")
        spec = answer.get("object") if answer is not None else None
        if not isinstance(spec, dict) or self._objects is None:
            return None
        return self._objects.make(spec)


def kernel_class(chain: list[str]) -> type[KernelService]:
    """The proxy class for a kernel object of class chain ``chain`` (most-derived first)."""
    key = tuple(chain)
    cls = _CLASSES.get(key)
    if cls is None:
        cls = KernelService
        for class_name in reversed([c for c in chain if isinstance(c, str)
                                    and c not in KernelService.class_chain]):
            cls = type(class_name, (cls,), {"__module__": __name__,
                                            "iokit_class_name": class_name})
        _CLASSES[key] = cls
    return cls


class RemoteObjects:
    """The kernel objects this process was shown, by the kernel's number.

    A spec is ``{"kobj": n}`` plus, the first time the object crosses, its ``chain``,
    ``name``, ``location``, ``path`` and ``props`` (the copy that answers when the kernel
    cannot)."""

    def __init__(self, ask: Ask, adopt: Callable[[IOService], None]) -> None:
        self._ask = ask
        self._adopt = adopt  # the process's kernel stand-in takes the proxy's requests
        self.by_number: dict[int, KernelService] = {}

    def make(self, spec: Mapping[str, Any]) -> KernelService | None:
        number = spec.get("kobj")
        if type(number) is not int or number <= 0:
            return None
        known = self.by_number.get(number)
        if known is not None and "chain" not in spec:
            return known
        chain = spec.get("chain")
        name, location, path = spec.get("name"), spec.get("location"), spec.get("path")
        props = spec.get("props")
        made = kernel_class([c for c in chain if isinstance(c, str)]
                            if isinstance(chain, list) else [])(
            props if isinstance(props, dict) else None,
            name=name if isinstance(name, str) else None,
            location=location if isinstance(location, str) else None)
        made.kernel_object = number
        made._path = path if isinstance(path, str) else None
        made._ask = self._ask
        made._objects = self
        self._adopt(made)
        self.by_number[number] = made
        return made
