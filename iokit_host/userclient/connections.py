"""Open connections and their end (``io_connect_t`` ports, ``clientClose``, ``clientDied``).

Each successful open is a :class:`Connection`; :class:`UserClients` holds them for one kernel.
Closing runs the client's ``client_close`` once, guarded by the connection's closed flag as
IOKit's ``closed`` ivar guards it; a process that dies (its socket closes) has each connection
it left open ``client_died`` then ``client_close``-d. After a close the kernel makes sure the
client has left the registry: IOKit leaves a client whose ``clientClose`` forgot to terminate
until its provider goes, but no user client may outlive its connection here.
"""

from __future__ import annotations

import functools
import inspect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from iokit_sdk.memory import IOBufferMemoryDescriptor
from iokit_sdk.returns import IOReturn
from iokit_sdk.userclient import IOUserClient, OwningTask

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.driver_calls import DriverFault, described
from iokit_host.userclient.calls import CallRequest, CallResult, call_method
from iokit_host.userclient.memory_grant import DescriptorOf, MemoryGrant, grant, shareable
from iokit_host.userclient.opening import (
    check_entitlements,
    make_user_client,
    release_client,
    start_user_client,
)

if TYPE_CHECKING:
    from iokit_sdk.service import IOService

    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["Connection", "UserClients"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(eq=False, slots=True)
class Connection:
    """One open user client and the task that opened it."""

    client: IOUserClient
    service: IOService
    task: OwningTask
    type: int
    closed: bool = False


def _armed(method: Callable[Concatenate[UserClients, P], R],
           ) -> Callable[Concatenate[UserClients, P], R]:
    """Run ``method`` in a watchdog armed period, as the kernel's work loop runs (a no-op
    inside the running kernel's own): a client's driver call that blocks is interrupted
    and a driver's own KeyboardInterrupt told from Ctrl-C also when the API is used
    directly (an embedding program, a test)."""
    def armed(self: UserClients, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.kernel.driver_calls.watchdog.armed():
            return method(self, *args, **kwargs)

    functools.update_wrapper(armed, method)
    return armed


#: How many user clients the processes of one user may hold open at once. Each is a Mach
#: port of its task in xnu, whose port space is bounded; unbounded here, one local program
#: opened a million (1.3 GB of kernel memory, and a minute and more closing them while no
#: one else was served). Past it, ``IOServiceOpen`` fails with ``kIOReturnNoResources``.
MAX_OPEN_PER_USER = 16_384


class UserClients:
    """The open connections of one kernel, and the exclusive opens of its services."""

    def __init__(self, kernel: WorkLoop) -> None:
        self.kernel = kernel
        self._open: dict[int, Connection] = {}
        self._exclusive: dict[int, Connection] = {}
        self._per_user: Counter[int] = Counter()

    def __len__(self) -> int:
        return len(self._open)

    def connections(self) -> tuple[Connection, ...]:
        return tuple(self._open.values())

    @_armed
    def open(self, service: IOService, task: OwningTask, type: int) -> Connection | int:
        """``IOServiceOpen``: the connection, or the IOReturn that refused it."""
        kernel = self.kernel
        if self._per_user[task.uid] >= MAX_OPEN_PER_USER:
            return IOReturn.NO_RESOURCES
        made = make_user_client(kernel, service, task, type)
        if isinstance(made, int):
            return made
        started = start_user_client(kernel, made, service, task, type)
        if started != IOReturn.SUCCESS:
            return started
        connection = Connection(made, service, task, type)
        # kIOReturnExclusiveAccess can only come from newUserClient (a family's override), so
        # before is_io_service_open_extended's own checks; the family releases its client
        # without clientClose. Those checks' refusals do clientClose it.
        refused = self._claim(connection)
        if refused != IOReturn.SUCCESS:
            self._close_client(connection, call_close=False)
            return refused
        refused = check_entitlements(kernel, made, task)
        if refused != IOReturn.SUCCESS:
            self._close_client(connection)
            return refused
        self._open[id(connection)] = connection
        self._per_user[task.uid] += 1
        return connection

    def _claim(self, connection: Connection) -> int:
        """The single-owner open of an exclusive client's provider."""
        # Read as stored: a driver's class may make it a property, whose code would run here.
        if inspect.getattr_static(connection.client, "exclusive", False) is not True:
            return IOReturn.SUCCESS
        holder = self._exclusive.get(id(connection.service))
        if holder is not None and not holder.closed and not holder.client.is_inactive():
            return IOReturn.EXCLUSIVE_ACCESS
        self._exclusive[id(connection.service)] = connection
        return IOReturn.SUCCESS

    @_armed
    def call(self, connection: Connection, request: CallRequest) -> CallResult:
        if connection.closed:  # its client is terminated: see calls.run_method
            return CallResult(IOReturn.BAD_ARGUMENT)
        return call_method(self.kernel, connection.client, connection.task, request)

    @_armed
    def memory(self, connection: Connection, type: int) -> IOBufferMemoryDescriptor | int:
        """``IOConnectMapMemory``: the client's ``client_memory_for_type(type)``, when it is
        memory a program can map. Whatever code the client refuses with, the caller gets
        ``kIOReturnBadArgument``: ``mapClientMemory64`` gives no map and
        ``is_io_connect_map_memory_into_task`` answers that (xnu-8792 to xnu-11417). A driver
        fault is ``kIOReturnInternalError``, reported."""
        if connection.closed or connection.client.is_inactive():
            return IOReturn.BAD_ARGUMENT  # no IOUserClient behind the port any more (CHECK)
        made = self.kernel.driver_calls.call(connection.client.client_memory_for_type, type)
        if isinstance(made, DriverFault):
            self._check(connection, made, "client_memory_for_type")
            return IOReturn.INTERNAL_ERROR
        if made is IOReturn.NOT_RESPONDING:
            # The host's word that a driver process died mid-call (docs/driverkit.md), not a
            # refusal xnu would flatten: it crosses as it does for every other call.
            return IOReturn.NOT_RESPONDING
        # An IOReturn (an int subclass is not asked anything) or any other non-memory value.
        if not isinstance(made, IOBufferMemoryDescriptor):
            return IOReturn.BAD_ARGUMENT
        usable = self.kernel.driver_calls.call(shareable, made)  # the driver's object's reads
        if isinstance(usable, DriverFault):
            self._check(connection, usable, "client_memory_for_type")
            return IOReturn.INTERNAL_ERROR
        return made if usable == IOReturn.SUCCESS else usable

    @_armed
    def grant(self, connection: Connection, memory: IOBufferMemoryDescriptor,
              descriptor_of: DescriptorOf) -> MemoryGrant | int:
        """What :meth:`memory` gave, as the program maps it (:mod:`.memory_grant`)."""
        return grant(self.kernel, connection.client, memory, descriptor_of)

    @_armed
    def close(self, connection: Connection) -> int:
        """``IOServiceClose``: ``client_close`` once; a second close is ignored."""
        if connection.closed:
            return IOReturn.SUCCESS
        self._forget(connection)
        self._close_client(connection)
        return IOReturn.SUCCESS

    @_armed
    def died(self, connection: Connection) -> None:
        """The owning process is gone: ``client_died``, then the close.

        ``iokit_client_died`` calls only ``clientDied``, whose default closes the client once
        (xnu-8792 to xnu-11417); an override often calls ``clientClose`` itself. So a client
        that ``client_died`` already terminated (``client_close``'s work) is not
        ``client_close``-d a second time."""
        if connection.closed:
            return
        died = self.kernel.driver_calls.call_discarding(self.kernel.hook.iokit_client_died,
                                                        service=connection.client)
        self._check(connection, died, "client_died")
        self._forget(connection)
        self._close_client(connection, call_close=not connection.client.is_inactive())

    def _forget(self, connection: Connection) -> None:
        if self._open.pop(id(connection), None) is not None:
            uid = connection.task.uid
            self._per_user[uid] -= 1
            if self._per_user[uid] <= 0:
                del self._per_user[uid]

    def close_all(self) -> int:
        """Close every open connection (kernel shutdown); returns how many."""
        open_now = self.connections()
        for connection in open_now:
            self.close(connection)
        return len(open_now)

    def _close_client(self, connection: Connection, call_close: bool = True) -> None:
        connection.closed = True
        if self._exclusive.get(id(connection.service)) is connection:
            del self._exclusive[id(connection.service)]
        kernel, client = self.kernel, connection.client
        if call_close:
            closed = kernel.driver_calls.call_discarding(kernel.hook.iokit_client_close,
                                                         service=client)
            self._check(connection, closed, "client_close")
        release_client(kernel, client, connection.service)
        kernel.run_until_quiet()

    def _check(self, connection: Connection, result: object, call: str) -> None:
        if isinstance(result, DriverFault):
            self.kernel.report(Diagnostic(
                result.reference(f"user-client-{call.replace('_', '-')}-raised"),
                result.reason(f"{call} of {described(connection.client)}"),
                subject=connection.client.iokit_class_name, severity=Severity.WARNING,
                hint="the connection is closed all the same and the client left the registry"))
