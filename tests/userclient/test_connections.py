"""Closing and death: ``client_close`` once, ``client_died`` then ``client_close``, exclusive
opens, and no user client outliving its connection (§7.2)."""

from __future__ import annotations

from iokit_sdk import IOReturn, IOService
from iokit_sdk.userclient import OwningTask

from iokit_host.host import IOKitHost
from iokit_host.userclient.connections import Connection, UserClients


def _open(user_clients: UserClients, driver: IOService, task: OwningTask,
          type: int = 0) -> Connection:
    opened = user_clients.open(driver, task, type)
    assert isinstance(opened, Connection), opened
    return opened


def _children(driver: IOService) -> list[str]:
    return [child.iokit_class_name for child in driver.get_clients()]


def test_close_runs_client_close_once_and_the_client_leaves(
        user_clients: UserClients, driver: IOService, task: OwningTask) -> None:
    connection = _open(user_clients, driver, task)
    assert _children(driver) == ["TestUserClient"]
    assert user_clients.close(connection) == IOReturn.SUCCESS
    assert user_clients.close(connection) == IOReturn.SUCCESS  # ignored, as IOKit's
    assert driver.get_property("ClientEvents") == ["client_close"]
    assert _children(driver) == [] and len(user_clients) == 0


def test_death_is_client_died_then_client_close(user_clients: UserClients, driver: IOService,
                                                task: OwningTask) -> None:
    connection = _open(user_clients, driver, task)
    user_clients.died(connection)
    user_clients.died(connection)
    assert driver.get_property("ClientEvents") == ["client_died", "client_close"]
    assert _children(driver) == []


def test_a_client_close_that_forgets_to_terminate_still_leaves_no_client(
        user_clients: UserClients, driver: IOService, task: OwningTask) -> None:
    connection = _open(user_clients, driver, task)
    connection.client.client_close = lambda: IOReturn.SUCCESS  # type: ignore[method-assign]
    user_clients.close(connection)
    assert connection.client.is_inactive() and _children(driver) == []


def test_an_exclusive_client_refuses_a_second_open_until_closed(
        user_clients: UserClients, driver: IOService, task: OwningTask) -> None:
    first = _open(user_clients, driver, task, 2)
    assert user_clients.open(driver, task, 2) == IOReturn.EXCLUSIVE_ACCESS
    assert _children(driver) == ["ExclusiveClient"]  # the refused one did not stay
    shared = _open(user_clients, driver, task, 0)  # not exclusive: opens beside it
    user_clients.close(first)
    user_clients.close(_open(user_clients, driver, task, 2))
    user_clients.close(shared)


def test_close_all_closes_every_open_connection(uc_host: IOKitHost, user_clients: UserClients,
                                                driver: IOService, task: OwningTask) -> None:
    _open(user_clients, driver, task)
    _open(user_clients, driver, task, 2)
    assert user_clients.close_all() == 2
    assert _children(driver) == [] and user_clients.connections() == ()


def test_a_raising_client_close_is_reported_and_the_client_still_leaves(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask) -> None:
    connection = _open(user_clients, driver, task)

    def broken() -> int:
        raise RuntimeError("cannot close")

    connection.client.client_close = broken  # type: ignore[method-assign]
    user_clients.close(connection)
    assert uc_host.diagnostics[-1].reference == "user-client-client-close-raised"
    assert _children(driver) == []
