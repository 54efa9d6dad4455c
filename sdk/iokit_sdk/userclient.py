"""IOUserClient: a driver's door for user-space programs (``IOUserClient.h``, ``IOUserClient.cpp``).

A program opens a service (``IOServiceOpen``); the kernel asks the service for a user client
(``new_user_client``: the personality's ``IOUserClientClass``, or the driver's override),
initialises it with the caller's task, attaches it under the service and starts it. Calls
(``IOConnectCallMethod``) arrive at :meth:`IOUserClient.external_method` with an
:class:`IOExternalMethodArguments`; a dispatch table checks the argument counts and sizes
before the method runs, exactly as ``IOUserClient::externalMethod`` and
``IOUserClient2022::dispatchExternalMethod`` do, in the same order and with the same
IOReturn codes. The task (pid, uid, gid, entitlements) is the kernel's knowledge of the caller,
learnt from the socket and the operator's entitlement policy, never asserted by the client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

from iokit_sdk.returns import IOReturn
from iokit_sdk.service import IOService

if TYPE_CHECKING:
    from iokit_sdk.values import PropertyValue

__all__ = [
    "DEFAULT_LOCKING",
    "INBAND_STRUCT_MAX",
    "MAX_SCALARS",
    "IOExternalMethodArguments",
    "IOExternalMethodDispatch",
    "IOExternalMethodDispatch2022",
    "IOUserClient",
    "IOUserClient2022",
    "OSAsyncReference64",
    "OwningTask",
    "kIOConnectMethodVarOutputSize",
    "kIOUCVariableStructureSize",
    "kIOUserClientCreatorKey",
    "kIOUserClientDefaultLockingKey",
    "kIOUserClientDefaultLockingSetPropertiesKey",
    "kIOUserClientDefaultLockingSingleThreadExternalMethodKey",
    "kIOUserClientEntitlementsKey",
    "kMaxAsyncArgs",
    "kOSAsyncRef64Count",
]

#: A dispatch entry's count or size that is not checked (``kIOUCVariableStructureSize``).
kIOUCVariableStructureSize = 0xFFFFFFFF
#: ``*outputStructCnt`` asking for a variable-size output (``kIOConnectMethodVarOutputSize``).
kIOConnectMethodVarOutputSize = -3
#: At most this many scalars travel in or out (``io_scalar_inband64_t[16]``).
MAX_SCALARS = 16
#: Structures up to this size travel inband; larger ones as out-of-line memory.
INBAND_STRUCT_MAX = 4096
#: Words in an async reference (``kOSAsyncRef64Count``) and arguments of a result.
kOSAsyncRef64Count = 8
kMaxAsyncArgs = 16

kIOUserClientEntitlementsKey = "IOUserClientEntitlements"
kIOUserClientCreatorKey = "IOUserClientCreator"
kIOUserClientDefaultLockingKey = "IOUserClientDefaultLocking"
kIOUserClientDefaultLockingSetPropertiesKey = "IOUserClientDefaultLockingSetProperties"
kIOUserClientDefaultLockingSingleThreadExternalMethodKey = (
    "IOUserClientDefaultLockingSingleThreadExternalMethod")
#: The three ``IOUserClientDefaultLocking*`` properties an ``IOUserClient2022`` must set
#: (True: the kernel serialises its calls), for a subclass's :attr:`user_client_properties`.
DEFAULT_LOCKING: Mapping[str, bool] = MappingProxyType({
    kIOUserClientDefaultLockingKey: True,
    kIOUserClientDefaultLockingSetPropertiesKey: True,
    kIOUserClientDefaultLockingSingleThreadExternalMethodKey: True,
})


@dataclass(frozen=True, slots=True)
class OwningTask:
    """The calling process as the kernel knows it (``task_t``): from ``SO_PEERCRED`` and
    ``/proc``, with the entitlements the operator's policy grants it."""

    pid: int
    uid: int
    gid: int
    name: str
    groups: tuple[int, ...] = ()
    executable: str | None = None
    entitlements: frozenset[str] = frozenset()

    def has_entitlement(self, entitlement: str) -> bool:
        """``IOUserClient::copyClientEntitlement`` is true for ``entitlement``."""
        return entitlement in self.entitlements

    @property
    def is_administrator(self) -> bool:
        """``clientHasPrivilege(task, kIOClientPrivilegeAdministrator)``: uid 0."""
        return self.uid == 0

    @property
    def creator(self) -> str:
        """The ``IOUserClientCreator`` string: ``pid 123, smc-read``."""
        return f"pid {self.pid}, {self.name}"


@dataclass(frozen=True, slots=True)
class OSAsyncReference64:
    """Where an async call's completion goes: the caller's reference words and, set by the
    kernel, the route back to its notification port (``OSAsyncReference64``)."""

    words: tuple[int, ...]
    deliver: Callable[[int, tuple[int, ...]], int] = field(repr=False, compare=False)


@dataclass(slots=True, init=False)
class IOExternalMethodArguments:
    """One call's arguments and results (``IOExternalMethodArguments``, version 2).

    The method reads ``scalar_input`` and ``structure_input`` and writes ``scalar_output``
    (zero-filled to the caller's ``scalar_output_count``) and ``structure_output`` (at most
    ``structure_output_size`` bytes; with ``kIOConnectMethodVarOutputSize`` the caller takes
    any size, as ``structureVariableOutputData``).
    """

    selector: int
    scalar_input: tuple[int, ...]
    structure_input: bytes
    scalar_output_count: int
    structure_output_size: int
    async_reference: OSAsyncReference64 | None
    task: OwningTask | None
    scalar_output: list[int]
    structure_output: bytes

    def __init__(self, selector: int, scalar_input: tuple[int, ...] = (),
                 structure_input: bytes = b"", scalar_output_count: int = 0,
                 structure_output_size: int = 0,
                 async_reference: OSAsyncReference64 | None = None,
                 task: OwningTask | None = None, scalar_output: list[int] | None = None,
                 structure_output: bytes = b"") -> None:
        # Written out (no generated __init__ and __post_init__): every call makes one.
        self.selector = selector
        self.scalar_input = scalar_input
        self.structure_input = structure_input
        self.scalar_output_count = scalar_output_count
        self.structure_output_size = structure_output_size
        self.async_reference = async_reference
        self.task = task
        self.scalar_output = scalar_output or [0] * scalar_output_count
        self.structure_output = structure_output

    @property
    def scalar_input_count(self) -> int:
        return len(self.scalar_input)

    @property
    def structure_input_size(self) -> int:
        return len(self.structure_input)

    @property
    def is_async(self) -> bool:
        """An ``IOConnectCallAsync*`` call (``asyncWakePort`` set)."""
        return self.async_reference is not None


#: ``IOExternalMethodAction``: ``function(target, reference, arguments) -> IOReturn``.
ExternalMethodAction = Callable[[Any, Any, IOExternalMethodArguments], int]


@dataclass(frozen=True, slots=True)
class IOExternalMethodDispatch:
    """One entry of a dispatch table (``IOExternalMethodDispatch``): the method and the
    counts and sizes a call must have; ``kIOUCVariableStructureSize`` skips a check."""

    function: ExternalMethodAction | None
    check_scalar_input_count: int = 0
    check_structure_input_size: int = 0
    check_scalar_output_count: int = 0
    check_structure_output_size: int = 0


@dataclass(frozen=True, slots=True)
class IOExternalMethodDispatch2022(IOExternalMethodDispatch):
    """``IOExternalMethodDispatch2022``: also whether async calls are allowed and the
    entitlement a caller needs (``checkEntitlement``)."""

    allow_async: bool = False
    check_entitlement: str | None = None


def check_arguments(arguments: IOExternalMethodArguments,
                    dispatch: IOExternalMethodDispatch) -> int:
    """``IOUserClient::externalMethod``'s checks, in its order; each mismatch is
    ``kIOReturnBadArgument``: scalar-in count, struct-in size, scalar-out count (the caller's
    capacity must equal it), struct-out size. A variable-size output
    (``kIOConnectMethodVarOutputSize``) is checked as size 0: IOKitLib's
    ``IOConnectCallMethod`` sends it to ``io_connect_method_var_output`` with an inband
    capacity of 0, which is the ``structureOutputSize`` the check reads (IOKitUser-100222,
    xnu-8792 to xnu-11417)."""
    # Written out, not looped over: this runs on every call of every user client.
    variable = kIOUCVariableStructureSize
    wanted = dispatch.check_scalar_input_count
    if wanted != variable and wanted != len(arguments.scalar_input):
        return IOReturn.BAD_ARGUMENT
    wanted = dispatch.check_structure_input_size
    if wanted != variable and wanted != len(arguments.structure_input):
        return IOReturn.BAD_ARGUMENT
    wanted = dispatch.check_scalar_output_count
    if wanted != variable and wanted != arguments.scalar_output_count:
        return IOReturn.BAD_ARGUMENT
    wanted = dispatch.check_structure_output_size
    if wanted != variable:
        size = arguments.structure_output_size
        if wanted != (0 if size == kIOConnectMethodVarOutputSize else size):
            return IOReturn.BAD_ARGUMENT
    return IOReturn.SUCCESS


class IOUserClient(IOService):
    """Base class of user clients; name a subclass in the personality's ``IOUserClientClass``.

    :attr:`user_client_properties` are set on each new client (``IOUserClientEntitlements``:
    a string entitlement the caller must hold, or False for anyone). With :attr:`exclusive`
    the client opens its provider: a second open while one is open gets
    ``kIOReturnExclusiveAccess`` (the single-owner ``IOService::open`` families rely on).
    """

    user_client_properties: ClassVar[Mapping[str, PropertyValue]] = {}
    exclusive: ClassVar[bool] = False

    def init_with_task(self, owning_task: OwningTask, security_id: object, type: int,
                       properties: Mapping[str, PropertyValue] | None) -> bool:
        """Adopt the caller's task (``initWithTask``); False fails the open with
        ``kIOReturnBadArgument``."""
        self._owning_task = owning_task
        for key, value in {**self.user_client_properties, **(properties or {})}.items():
            self.set_property(key, value)
        return True

    @property
    def owning_task(self) -> OwningTask | None:
        """The task that opened this client (None before ``init_with_task``)."""
        return getattr(self, "_owning_task", None)

    def external_method(self, selector: int, arguments: IOExternalMethodArguments,
                        dispatch: IOExternalMethodDispatch | None = None,
                        target: Any = None, reference: Any = None) -> int:
        """Run one call (``externalMethod``). A subclass range-checks ``selector`` and calls
        ``super().external_method(selector, arguments, table[selector], self, None)``.

        With ``dispatch``, the counts and sizes are checked (:func:`check_arguments`), then
        ``dispatch.function(target, reference, arguments)`` runs; without a function the
        result is ``kIOReturnNoCompletion``. Without ``dispatch`` (the legacy method lookup,
        which finds nothing by default) the result is ``kIOReturnUnsupported``, or
        ``kIOReturnIPCError`` for a call whose structures travel out of line (past
        ``INBAND_STRUCT_MAX``), which the pre-Leopard methods cannot take and xnu refuses
        first (``IOUserClient::externalMethod``, xnu-8792 to xnu-11417).
        """
        if dispatch is None:
            if len(arguments.structure_input) > INBAND_STRUCT_MAX \
                    or arguments.structure_output_size > INBAND_STRUCT_MAX:
                return IOReturn.IPC_ERROR
            return IOReturn.UNSUPPORTED
        checked = check_arguments(arguments, dispatch)
        if checked != IOReturn.SUCCESS:
            return checked
        if dispatch.function is None:
            return IOReturn.NO_COMPLETION
        return dispatch.function(target if target is not None else self, reference, arguments)

    def client_close(self) -> int:
        """The caller closed the connection (``clientClose``), called once.

        IOKit's default returns ``kIOReturnUnsupported`` and every real subclass terminates
        itself here; this default does that common work, so the client leaves the registry.
        """
        self.terminate()
        return IOReturn.SUCCESS

    def client_died(self) -> int:
        """The caller's process died or dropped its connection (``clientDied``). The kernel
        calls :meth:`client_close` right after, once, whatever this returns, unless this
        already terminated the client (an override that calls ``self.client_close()``, as C
        drivers' ``clientDied`` returns ``clientClose()``: it is not closed twice)."""
        return IOReturn.SUCCESS

    def client_memory_for_type(self, type: int) -> Any:
        """Memory of ``type`` for the caller to map (``clientMemoryForType``, from
        ``IOConnectMapMemory``): an :class:`~iokit_sdk.memory.IOBufferMemoryDescriptor` the
        client keeps (it stays the driver's; the program maps it), or an IOReturn. The default
        is ``kIOReturnUnsupported``; whatever the code, the program gets
        ``kIOReturnBadArgument``, as ``is_io_connect_map_memory_into_task`` answers."""
        return IOReturn.UNSUPPORTED

    def send_async_result(self, reference: OSAsyncReference64, result: int,
                          args: Sequence[int] = ()) -> int:
        """Complete an async call (``sendAsyncResult64``): ``result`` and up to
        ``kMaxAsyncArgs`` numbers go to the caller's notification port.

        :returns: ``kIOReturnMessageTooLarge`` for too many arguments,
            ``MACH_SEND_INVALID_DEST`` (:mod:`iokit_sdk.returns`) when the caller's port is
            gone, as the Mach send ``sendAsyncResult64`` makes fails, else success.
        """
        if len(args) > kMaxAsyncArgs:
            return IOReturn.MESSAGE_TOO_LARGE
        return reference.deliver(int(result), tuple(int(a) for a in args))


class IOUserClient2022(IOUserClient):
    """``IOUserClient2022``: the dispatch table is checked by the kernel's base class.

    Set :attr:`dispatch_table` (indexed by selector) or override :meth:`external_method`. The
    class must set ``IOUserClientEntitlements`` (a string, or False for anyone) or every open
    is refused with ``kIOReturnNotPrivileged``, and the three ``IOUserClientDefaultLocking*``
    properties, or every open fails with ``kIOReturnError``: put them in
    :attr:`user_client_properties` (``{**DEFAULT_LOCKING, kIOUserClientEntitlementsKey:
    False}``).
    """

    dispatch_table: ClassVar[Sequence[IOExternalMethodDispatch2022]] = ()

    def external_method(self, selector: int, arguments: IOExternalMethodArguments,
                        dispatch: IOExternalMethodDispatch | None = None,
                        target: Any = None, reference: Any = None) -> int:
        return self.dispatch_external_method(selector, arguments, self.dispatch_table,
                                             self, None)

    def dispatch_external_method(self, selector: int, arguments: IOExternalMethodArguments,
                                 table: Sequence[IOExternalMethodDispatch2022] | None,
                                 target: Any, reference: Any) -> int:
        """``dispatchExternalMethod``, in xnu's order (``IOUserClient.cpp``, every release
        since IOUserClient2022 came): no table is ``kIOReturnError``; a selector past the
        table ``kIOReturnBadArgument``; then the counts and sizes (:func:`check_arguments`);
        an async call to an entry without ``allow_async`` ``kIOReturnBadArgument``; an
        entitlement the caller lacks ``kIOReturnNotPrivileged``; an entry without a function
        ``kIOReturnNoCompletion``; then the call."""
        if table is None:
            return IOReturn.ERROR
        if not 0 <= selector < len(table):
            return IOReturn.BAD_ARGUMENT
        entry = table[selector]
        checked = check_arguments(arguments, entry)
        if checked:
            return checked
        if arguments.async_reference is not None and not entry.allow_async:
            return IOReturn.BAD_ARGUMENT
        if entry.check_entitlement is not None:
            task = arguments.task
            if task is None or not task.has_entitlement(entry.check_entitlement):
                return IOReturn.NOT_PRIVILEGED
        if entry.function is None:
            return IOReturn.NO_COMPLETION
        return entry.function(target, reference, arguments)
