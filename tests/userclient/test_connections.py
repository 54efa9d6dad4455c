"""Closing and death: ``client_close`` once, ``client_died`` then ``client_close``, exclusive
opens, and no user client outliving its connection (§7.2)."""

from __future__ import annotations

import threading
import time
from types import ModuleType

from hostilekit import HostileInt
from hostkit import driven_watchdog
from iokit_sdk import IOReturn, IOService
from iokit_sdk.userclient import IOUserClient, OwningTask

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


def test_a_client_died_that_closes_the_client_itself_is_not_closed_twice(
        user_clients: UserClients, driver: IOService, task: OwningTask) -> None:
    """A C driver's ``clientDied`` override commonly returns ``clientClose()``; xnu's
    ``iokit_client_died`` calls only ``clientDied``, so ``clientClose`` runs once."""
    connection = _open(user_clients, driver, task)
    client, closes = connection.client, []
    close = client.client_close

    def counted_close() -> int:
        closes.append(client.is_inactive())
        return close()

    client.client_close = counted_close  # type: ignore[method-assign]
    client.client_died = counted_close  # type: ignore[method-assign]
    user_clients.died(connection)
    assert closes == [False]  # once, while the client was still active
    assert _children(driver) == [] and len(user_clients) == 0


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


def test_exclusive_access_is_refused_before_the_entitlement_check_and_not_client_closed(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService, task: OwningTask,
        test_kext: ModuleType) -> None:
    """``kIOReturnExclusiveAccess`` comes from ``newUserClient``, before
    ``is_io_service_open_extended`` checks ``IOUserClientEntitlements``; the family releases
    the refused client without ``clientClose``."""

    class EntitledExclusiveClient(test_kext.ExclusiveClient):  # type: ignore[misc,name-defined]
        user_client_properties = test_kext.EntitledOpenClient.user_client_properties

    driver.new_user_client = lambda *args: EntitledExclusiveClient()  # type: ignore[method-assign]
    entitled = OwningTask(1, 501, 20, "tester", entitlements=frozenset(
        {"com.test.userclient.open"}))
    first = _open(user_clients, driver, entitled)
    assert user_clients.open(driver, task, 0) == IOReturn.EXCLUSIVE_ACCESS  # not entitled
    assert driver.get_property("ClientEvents", []) == []  # the refused one: no client_close
    assert _children(driver) == ["EntitledExclusiveClient"]
    user_clients.close(first)
    assert user_clients.open(driver, task, 0) == IOReturn.NOT_PRIVILEGED
    assert driver.get_property("ClientEvents") == ["client_close", "client_close"]


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


def test_a_memory_type_refused_with_any_code_is_bad_argument_as_xnu_answers(
        user_clients: UserClients, driver: IOService, task: OwningTask) -> None:
    """``is_io_connect_map_memory_into_task`` answers ``kIOReturnBadArgument`` whenever
    ``clientMemoryForType`` gives no memory, whatever its code (an int subclass's own
    methods are not run either)."""
    connection = _open(user_clients, driver, task)
    connection.client.client_memory_for_type = (  # type: ignore[method-assign]
        lambda type: HostileInt(int(IOReturn.NO_MEMORY)))
    assert user_clients.memory(connection, 0) == IOReturn.BAD_ARGUMENT
    connection.client.client_memory_for_type = (  # type: ignore[method-assign]
        lambda type: IOUserClient.client_memory_for_type(connection.client, type))
    assert IOUserClient.client_memory_for_type(connection.client, 0) == IOReturn.UNSUPPORTED
    assert user_clients.memory(connection, 0) == IOReturn.BAD_ARGUMENT
    assert user_clients.close(connection) == IOReturn.SUCCESS


def test_a_buffer_whose_released_is_the_drivers_failing_code_is_reported(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask) -> None:
    """The kernel asks the buffer a driver handed out whether it is released inside a guarded
    call: a subclass's ``released`` that raises SystemExit is the driver's fault (it escaped
    the kernel's request handler and stopped the kernel)."""
    from iokit_sdk.memory import IOBufferMemoryDescriptor

    class Exiting(IOBufferMemoryDescriptor):
        @property
        def released(self) -> bool:
            raise SystemExit("released exits")

    connection = _open(user_clients, driver, task)
    connection.client.client_memory_for_type = (  # type: ignore[method-assign]
        lambda type: Exiting(4096))
    assert user_clients.memory(connection, 0) == IOReturn.INTERNAL_ERROR
    assert uc_host.diagnostics[-1].reference == "user-client-client-memory-for-type-raised"
    assert "SystemExit: released exits" in uc_host.diagnostics[-1].message


def test_an_exclusive_flag_that_is_the_drivers_code_is_not_run_by_the_kernel(
        user_clients: UserClients, driver: IOService, task: OwningTask,
        test_kext: ModuleType) -> None:
    """``exclusive`` is read as the class stores it: a property is not True, and not run."""

    class Sneaky(test_kext.TestUserClient):  # type: ignore[misc,name-defined]
        @property
        def exclusive(self) -> bool:
            raise SystemExit("the kernel ran the driver's exclusive")

    driver.new_user_client = lambda *args: Sneaky()  # type: ignore[method-assign]
    first, second = _open(user_clients, driver, task), _open(user_clients, driver, task)
    assert user_clients.close(first) == user_clients.close(second) == IOReturn.SUCCESS


def test_a_close_blocking_in_the_driver_or_its_own_ctrl_c_do_not_stop_the_caller(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask) -> None:
    """Used directly (no running kernel around it), the API still runs its driver calls
    armed: a ``client_close`` blocked in a sleep is broken by the watchdog's signal, and a
    KeyboardInterrupt the driver raised itself is its fault, not the caller's Ctrl-C."""
    clock = driven_watchdog(uc_host)
    done = threading.Event()

    def drive() -> None:
        while not done.is_set():
            clock.advance(0.01)

    blocked, interrupted = _open(user_clients, driver, task), _open(user_clients, driver, task)
    blocked.client.client_close = lambda: time.sleep(20)  # type: ignore[method-assign]

    def ctrl_c() -> int:
        raise KeyboardInterrupt

    interrupted.client.client_close = ctrl_c  # type: ignore[method-assign]
    driving = threading.Thread(target=drive)
    driving.start()
    began = time.monotonic()
    try:
        assert user_clients.close(blocked) == IOReturn.SUCCESS
    finally:
        done.set()
        driving.join()
    assert time.monotonic() - began < 10  # not the driver's 20 s
    assert user_clients.close(interrupted) == IOReturn.SUCCESS
    assert [d.reference for d in uc_host.diagnostics] == [
        "driver-call-timeout", "user-client-client-close-raised"]
    assert _children(driver) == []
