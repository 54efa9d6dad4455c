"""Calling a driver's user client from a test, as a program would (``IOServiceOpen``,
``IOConnectCallMethod``), without a running kernel.

    connection = open_user_client(host, "AcmeKeyboard")
    assert connection.call(0, output_count=1) == (1,)
    connection.close()

The kernel's own rules apply (IOKIT_SEMANTICS.md §7): the open and every call are checked
against the client's properties and dispatch table; a refusal raises
:class:`~iokit_sdk.returns.IOReturnError` with IOKit's code. The caller is ``task`` (by
default uid 501 holding ``entitlements``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from iokit_sdk.returns import IOReturn, IOReturnError
from iokit_sdk.service import IOService
from iokit_sdk.userclient import OwningTask

from iokit_host.host import IOKitHost
from iokit_host.userclient.calls import CallRequest
from iokit_host.userclient.connections import Connection, UserClients

__all__ = ["UserClientConnection", "open_user_client"]


class UserClientConnection:
    """One open user client (an ``io_connect_t``)."""

    def __init__(self, clients: UserClients, connection: Connection) -> None:
        self._clients = clients
        self.connection = connection

    @property
    def client(self) -> IOService:
        return self.connection.client

    def call(self, selector: int, inputs: Sequence[int] = (), structure: bytes = b"", *,
             output_count: int = 0, structure_size: int = 0) -> tuple[int, ...]:
        """``IOConnectCallMethod``: the output scalars (:meth:`call_struct` for structures).

        :raises IOReturnError: the kernel or the method refused the call.
        """
        return self._call(selector, inputs, structure, output_count, structure_size)[0]

    def call_struct(self, selector: int, structure: bytes = b"", *,
                    structure_size: int = 0) -> bytes:
        return self._call(selector, (), structure, 0, structure_size)[1]

    def _call(self, selector: int, inputs: Sequence[int], structure: bytes, output_count: int,
              structure_size: int) -> tuple[tuple[int, ...], bytes]:
        result = self._clients.call(self.connection, CallRequest(
            selector, tuple(inputs), structure, output_count, structure_size))
        if result.ret != IOReturn.SUCCESS:
            raise IOReturnError(result.ret, f"method {selector}")
        return result.scalars, result.structure

    def close(self) -> None:
        """``IOServiceClose``: ``client_close``, and the client leaves the registry."""
        self._clients.close(self.connection)


def open_user_client(host: IOKitHost, service: IOService | str, type: int = 0, *,
                     task: OwningTask | None = None,
                     entitlements: Iterable[str] = ()) -> UserClientConnection:
    """Open ``service`` (or the first service of that class) as a program would.

    :raises IOReturnError: the open was refused (``kIOReturnUnsupported``,
        ``kIOReturnNotPrivileged``, ...), or no service of that class is registered
        (``kIOReturnNotFound``).
    """
    if isinstance(service, str):
        found = host.kernel.copy_matching_services({"IOProviderClass": service})
        if not found:
            raise IOReturnError(IOReturn.NOT_FOUND, f"no registered {service}")
        service = found[0]
    caller = task if task is not None else OwningTask(
        4242, 501, 20, "test", entitlements=frozenset(entitlements))
    clients = _clients(host)
    opened = clients.open(service, caller, type)
    if isinstance(opened, int):
        raise IOReturnError(opened, f"IOServiceOpen of {service.iokit_class_name}")
    return UserClientConnection(clients, opened)


def _clients(host: IOKitHost) -> UserClients:
    """One :class:`UserClients` per host (it keeps the exclusive opens)."""
    clients = getattr(host, "_test_user_clients", None)
    if not isinstance(clients, UserClients):
        clients = UserClients(host.kernel)
        host._test_user_clients = clients  # type: ignore[attr-defined]
    return clients
