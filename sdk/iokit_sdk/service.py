"""IOService: the base class of every driver and nub, and what a driver may ask the kernel.

As in IOKit, a driver is a subclass of ``IOService`` that the kernel instantiates by class name
from a personality's ``IOClass``; it overrides ``probe``, ``start`` and ``stop`` and rarely
anything else. The kernel calls those methods through the pluggy hooks in
:mod:`iokit_sdk.hookspecs`; the host's built-in plugin forwards each hook to the method here,
so a driver is a plain subclass and host-wide plugins can wrap every call.

Requests that change the registry (``attach``, ``register_service``, ``terminate``,
``publish_resource``) go to the host through the :class:`Kernel` protocol, which the host
sets on every service it creates or adopts. A service built by a driver (a nub) learns its
kernel from its provider when it attaches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.pm import PowerManagement

if TYPE_CHECKING:
    from iokit_sdk.pm import PowerRequests
    from iokit_sdk.values import PropertyValue

__all__ = [
    "SYNCHRONOUS",
    "TERMINATE_NEED_WILL_TERMINATE",
    "TERMINATE_SYNCHRONOUS",
    "TERMINATE_WITH_REMATCH",
    "IOResources",
    "IOService",
    "Kernel",
    "NotificationHandle",
    "ServiceState",
]

# registerService / terminate option bits (IOService.h)
SYNCHRONOUS = 0x2
TERMINATE_SYNCHRONOUS = 0x2
TERMINATE_WITH_REMATCH = 0x10
TERMINATE_NEED_WILL_TERMINATE = 0x100


class ServiceState:
    """The ``__state[0]`` bits that ``getState()`` reports and ioreg prints."""

    INACTIVE = 0x1
    REGISTERED = 0x2
    MATCHED = 0x4
    FIRST_PUBLISH = 0x8
    FIRST_MATCH = 0x10


class Kernel(Protocol):
    """What a service may ask of the host. The host implements it; drivers never do."""

    @property
    def power(self) -> PowerRequests:
        """The power manager: where the power-management requests of
        :class:`~iokit_sdk.pm.PowerManagement` go."""

    def attach(self, service: IOService, provider: IOService) -> bool: ...

    def detach(self, service: IOService, provider: IOService) -> None: ...

    def register_service(self, service: IOService, options: int = 0) -> None: ...

    def terminate(self, service: IOService, options: int = 0) -> bool: ...

    def publish_resource(self, key: str, value: PropertyValue | None = None) -> None: ...

    def add_matching_notification(self, kind: str, matching: Mapping[str, Any],
                                  handler: Callable[[IOService], None],
                                  priority: int = 0) -> NotificationHandle: ...

    def register_interest(self, service: IOService,
                          handler: Callable[[int, IOService, Any], object]
                          ) -> NotificationHandle: ...

    def message_clients(self, service: IOService, message_type: int,
                        argument: Any = None) -> None: ...


class NotificationHandle(Protocol):
    """An installed matching notification (IOKit's ``IONotifier``)."""

    def remove(self) -> None:
        """Stop the notification; no handler call follows."""


class IOService(IORegistryEntry, PowerManagement):
    """Base class for drivers and nubs.

    Override the lifecycle methods below; each documents when the kernel calls it. The
    defaults are IOKit's: ``probe`` keeps the score, ``start`` succeeds, ``stop`` does nothing.
    """

    __slots__ = ("_busy", "_busy_time_ns", "_instance_data", "_kernel", "_state")

    #: Class names a subclass declares it is, for matching (``IOProviderClass``) only when
    #: the Python class chain cannot express it. Rarely needed.
    iokit_class_name: ClassVar[str] = "IOService"

    def __init__(
        self,
        properties: Mapping[str, PropertyValue] | None = None,
        *,
        name: str | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(properties, name=name, location=location)
        self._state = 0
        self._busy = 0
        self._busy_time_ns = 0
        self._kernel: Kernel | None = None
        self._instance_data: dict[str, Any] | None = None

    # -- lifecycle: the kernel calls these (through hooks) ---------------------------------
    def init(self, properties: Mapping[str, Any]) -> bool:
        """Adopt ``properties`` (the matched personality copy) as the property table.

        Called once, right after the kernel allocates the class named by ``IOClass`` and
        before ``attach``/``probe``. Return False to refuse; the candidate is dropped.
        """
        if type(self).set_property is IORegistryEntry.set_property:
            self._set_each(properties)  # the same, for less
        else:  # a driver's own set_property sees each key
            for key, value in properties.items():
                self.set_property(key, value)
        return True

    def probe(self, provider: IOService, score: int) -> int | None:
        """Confirm the match while attached to ``provider``; return the (new) score or None.

        Called for every candidate that passed passive matching, before any ``start``.
        Returning None declines the match (IOKit's ``probe`` returning NULL). A score is an
        integer within IOKit's ``SInt32`` (-2**31 to 2**31-1); anything else (a float, a
        bool, a string) drops the candidate with a diagnostic.
        """
        return score

    def start(self, provider: IOService) -> bool:
        """Bring the driver up on ``provider``; return False to let the next candidate try.

        Called for the best-scoring candidate of each match category. A driver publishes
        its own nubs here (``nub.attach(self)``; ``nub.register_service()``). Returning None
        (a forgotten ``return True``) counts as started, with a warning naming the driver.
        A call still running after ``IOKIT_DRIVER_TIMEOUT`` seconds (10) is abandoned.
        """
        return True

    def stop(self, provider: IOService) -> None:
        """Undo ``start``: called during termination, leaves first, before ``detach``."""

    def free(self) -> None:
        """Release what ``init`` took: called after the last detach of a terminated service."""

    def will_terminate(self, provider: IOService, options: int) -> bool:
        """``provider`` is being terminated: called top-down in termination phase 2."""
        return True

    def did_terminate(self, provider: IOService, options: int) -> bool:
        """``provider`` finished terminating: called bottom-up, before ``stop``."""
        return True

    def message(self, message_type: int, provider: IOService | None, argument: Any = None) -> int:
        """A message from ``provider`` (``kIOMessage*``); the default is kIOReturnUnsupported."""
        return 0xE00002C7

    def new_user_client(self, owning_task: Any, security_id: Any, type: int,
                        properties: Mapping[str, Any] | None) -> Any:
        """A program opens this service (``newUserClient``, from ``IOServiceOpen``).

        Return a new, unattached ``IOUserClient`` (the kernel initialises, attaches and starts
        it), or an IOReturn code to refuse (``IOReturn.EXCLUSIVE_ACCESS``, ...). The default,
        None, makes the kernel instantiate the class named by ``IOUserClientClass``
        (``kIOReturnUnsupported`` without one).
        """
        return None

    # -- requests to the kernel ----------------------------------------------------------
    def attach(self, provider: IOService) -> bool:
        """Link this service under ``provider`` in the IOService plane."""
        kernel = self._kernel or provider._kernel
        if kernel is None:
            raise RuntimeError(f"{self!r}: provider {provider!r} belongs to no host")
        self._kernel = kernel
        return kernel.attach(self, provider)

    def detach(self, provider: IOService) -> None:
        if self._kernel is not None:
            self._kernel.detach(self, provider)

    def register_service(self, options: int = 0) -> None:
        """Publish this service so matching runs on it (``registerService``)."""
        self._require_kernel().register_service(self, options)

    def terminate(self, options: int = 0) -> bool:
        """Start terminating this service and its sole-provider clients."""
        return self._require_kernel().terminate(self, options)

    def publish_resource(self, key: str, value: PropertyValue | None = None) -> None:
        """Publish ``key`` on IOResources, waking personalities that wait on it."""
        self._require_kernel().publish_resource(key, value)

    def add_matching_notification(self, kind: str, matching: Mapping[str, Any],
                                  handler: Callable[[IOService], None], *,
                                  priority: int = 0) -> NotificationHandle:
        """Call ``handler(service)`` for each service ``matching`` (a matching dictionary)
        selects when it reaches ``kind``: ``publish``, ``first_publish``, ``matched``,
        ``first_match`` or ``terminated`` (``addMatchingNotification``; in a dext,
        ``IOServiceNotificationDispatchSource``). Services that already qualify are delivered
        at once (not for ``terminated``). ``remove()`` on the result stops it.

        :raises ValueError: ``kind`` is not one of those.
        """
        return self._require_kernel().add_matching_notification(kind, matching, handler,
                                                                priority)

    def register_interest(self, handler: Callable[[int, IOService, Any], object]
                          ) -> NotificationHandle:
        """Call ``handler(message_type, service, argument)`` for each message this service
        sends its clients (``registerInterest``, general interest): ``messageClients``, and
        ``kIOMessageServiceIsTerminated`` when it terminates. ``remove()`` on the result
        stops it. In a dext the messages cross, with the argument as ``message``'s does."""
        return self._require_kernel().register_interest(self, handler)

    def message_clients(self, message_type: int, argument: Any = None) -> None:
        """Send ``message_type`` to every client's ``message`` and to every interest handler
        of this service (``messageClients``)."""
        self._require_kernel().message_clients(self, message_type, argument)

    def get_provider(self) -> IOService | None:
        parent = self.get_parent_entry()
        return parent if isinstance(parent, IOService) else None

    def get_clients(self) -> tuple[IOService, ...]:
        return tuple(c for c in self.get_child_entries() if isinstance(c, IOService))

    # -- state ---------------------------------------------------------------------------
    def get_state(self) -> int:
        return self._state

    def is_inactive(self) -> bool:
        return bool(self._state & ServiceState.INACTIVE)

    def get_busy_state(self) -> int:
        return self._busy

    def _require_kernel(self) -> Kernel:
        if self._kernel is None:
            raise RuntimeError(f"{self!r} is not attached to a host yet")
        return self._kernel


class IOResources(IOService):
    """The resources nub: ``publish_resource`` sets properties here (``IOResources``)."""
