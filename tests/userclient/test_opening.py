"""Opening a user client: IOKit's sequence and its exact IOReturn codes (§7.1, Appendix B 7)."""

from __future__ import annotations

from typing import Any

from hostilekit import HostileInt, HostileObject
from iokit_sdk import IOReturn, IOService
from iokit_sdk.userclient import IOUserClient, OwningTask

from iokit_host.host import IOKitHost
from iokit_host.ioreg import render_text
from iokit_host.ioreg.options import IoregOptions
from iokit_host.userclient.connections import Connection, UserClients


def _register(host: IOKitHost, *classes: type[IOService]) -> None:
    host.classes.register_kext_classes("com.test.extra", classes)


def _user_clients_in(host: IOKitHost) -> list[str]:
    return [line for line in render_text(host.registry).splitlines()
            if "Client" in line.split("<class ", 1)[-1]]


def test_the_user_client_class_path_makes_a_child_with_its_creator(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask) -> None:
    opened = user_clients.open(driver, task, 0)
    assert isinstance(opened, Connection)
    assert opened.client.get_provider() is driver
    assert opened.client.get_property("IOUserClientCreator") == "pid 4242, tester"
    (line,) = _user_clients_in(uc_host)
    assert "<class TestUserClient, id" in line and "!registered, !matched, active" in line


def test_a_service_without_user_client_class_is_unsupported(
        uc_host: IOKitHost, user_clients: UserClients, task: OwningTask) -> None:
    nub = uc_host.find("SMC")
    assert nub is not None
    assert user_clients.open(nub, task, 0) == IOReturn.UNSUPPORTED


def test_a_class_not_loaded_is_no_memory_and_not_a_user_client_unsupported(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask) -> None:
    driver.set_property("IOUserClientClass", "NotLoadedClient")
    assert user_clients.open(driver, task, 0) == IOReturn.NO_MEMORY

    class PlainService(IOService):
        pass

    _register(uc_host, PlainService)
    driver.set_property("IOUserClientClass", "PlainService")
    assert user_clients.open(driver, task, 0) == IOReturn.UNSUPPORTED


def test_init_refused_is_bad_argument_and_start_refused_unsupported(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask) -> None:
    class Refuses(IOUserClient):
        def init_with_task(self, *args: Any) -> bool:
            return False

    class WontStart(IOUserClient):
        def start(self, provider: IOService) -> bool:
            return False

    _register(uc_host, Refuses, WontStart)
    driver.set_property("IOUserClientClass", "Refuses")
    assert user_clients.open(driver, task, 0) == IOReturn.BAD_ARGUMENT
    driver.set_property("IOUserClientClass", "WontStart")
    assert user_clients.open(driver, task, 0) == IOReturn.UNSUPPORTED
    assert _user_clients_in(uc_host) == []  # neither stayed in the registry


def test_a_2022_client_needs_its_locking_properties_then_its_entitlement(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask) -> None:
    from iokit_sdk.userclient import IOUserClient2022

    class Unlocked(IOUserClient2022):
        user_client_properties = {"IOUserClientEntitlements": False}  # noqa: RUF012

    _register(uc_host, Unlocked)
    driver.set_property("IOUserClientClass", "Unlocked")
    assert user_clients.open(driver, task, 0) == IOReturn.ERROR
    assert user_clients.open(driver, task, 1) == IOReturn.NOT_PRIVILEGED  # Appendix B 7
    assert _user_clients_in(uc_host) == []


def test_a_2022_client_lacking_both_is_refused_for_its_entitlement_not_its_locking(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask) -> None:
    """xnu's ``is_io_service_open_extended`` sets ``kIOReturnNotPrivileged`` after the
    locking check's ``kIOReturnError``: the entitlement's refusal is what the caller sees."""
    from iokit_sdk.userclient import IOUserClient2022

    class Bare(IOUserClient2022):
        pass

    _register(uc_host, Bare)
    driver.set_property("IOUserClientClass", "Bare")
    assert user_clients.open(driver, task, 0) == IOReturn.NOT_PRIVILEGED
    assert _user_clients_in(uc_host) == []


def test_a_client_without_locking_properties_is_given_default_locking(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask) -> None:
    """xnu sets ``IOUserClientDefaultLocking`` = true on a client that sets none of the three
    properties; one that sets any keeps what it set."""

    class LegacyClient(IOUserClient):
        pass

    class UnlockingClient(IOUserClient):
        user_client_properties = {"IOUserClientDefaultLockingSetProperties": False}  # noqa: RUF012

    _register(uc_host, LegacyClient, UnlockingClient)
    driver.set_property("IOUserClientClass", "LegacyClient")
    opened = user_clients.open(driver, task, 0)
    assert isinstance(opened, Connection)
    assert opened.client.get_property("IOUserClientDefaultLocking") is True
    (line,) = _user_clients_in(uc_host)
    assert "<class LegacyClient," in line
    listed = render_text(uc_host.registry, IoregOptions(list_properties=True))
    assert '"IOUserClientDefaultLocking" = Yes' in listed
    driver.set_property("IOUserClientClass", "UnlockingClient")
    opened = user_clients.open(driver, task, 0)
    assert isinstance(opened, Connection)
    assert not opened.client.has_property("IOUserClientDefaultLocking")


def test_an_entitlements_value_that_is_neither_a_name_nor_false_refuses_any_client(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask) -> None:
    """xnu refuses an ``IOUserClient2022`` for it and would read an older client's as a
    string (a panic): both are refused, and the driver's author is told."""

    class OddClient(IOUserClient):
        user_client_properties = {"IOUserClientEntitlements": True}  # noqa: RUF012

    _register(uc_host, OddClient)
    driver.set_property("IOUserClientClass", "OddClient")
    assert user_clients.open(driver, task, 0) == IOReturn.NOT_PRIVILEGED
    (diagnostic,) = uc_host.diagnostics
    assert diagnostic.reference == "user-client-entitlements-invalid"
    assert "IOUserClientEntitlements to True" in diagnostic.message
    assert _user_clients_in(uc_host) == []


def test_a_named_entitlement_must_be_held(uc_host: IOKitHost, user_clients: UserClients,
                                          driver: IOService, task: OwningTask) -> None:
    assert user_clients.open(driver, task, 3) == IOReturn.NOT_PRIVILEGED
    entitled = OwningTask(1, 501, 20, "tester", entitlements=frozenset(
        {"com.test.userclient.open"}))
    assert isinstance(user_clients.open(driver, entitled, 3), Connection)


def test_an_override_may_refuse_with_its_own_code_and_a_raising_one_is_reported(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask) -> None:
    assert user_clients.open(driver, task, 99) == IOReturn.BAD_ARGUMENT

    def broken(*args: Any) -> Any:
        raise RuntimeError("no user clients today")

    driver.new_user_client = broken  # type: ignore[method-assign]
    assert user_clients.open(driver, task, 0) == IOReturn.INTERNAL_ERROR
    assert uc_host.diagnostics[-1].reference == "user-client-new-raised"


def test_what_new_user_client_returns_is_read_without_running_the_drivers_code(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask) -> None:
    """An int subclass is its value as an IOReturn; another object is reported by its type,
    never printed with its own ``__repr__``, and the kernel goes on."""
    busy = HostileInt(int(IOReturn.BUSY))
    driver.new_user_client = lambda *args: busy  # type: ignore[method-assign]
    assert user_clients.open(driver, task, 0) == IOReturn.BUSY
    driver.new_user_client = lambda *args: HostileObject()  # type: ignore[method-assign]
    assert user_clients.open(driver, task, 0) == IOReturn.INTERNAL_ERROR
    (diagnostic,) = uc_host.diagnostics
    assert diagnostic.reference == "user-client-new-invalid"
    assert "returned <HostileObject object>" in diagnostic.message
    del driver.new_user_client
    assert isinstance(user_clients.open(driver, task, 0), Connection)


def test_one_user_opens_at_most_its_share_of_user_clients(
        user_clients: UserClients, driver: IOService, task: OwningTask,
        monkeypatch: Any) -> None:
    """A local program opened a million user clients (1.3 GB, a minute closing them while
    nobody else was served): past its share, IOServiceOpen fails, and closing frees it."""
    from iokit_host.userclient import connections

    monkeypatch.setattr(connections, "MAX_OPEN_PER_USER", 3)
    opened = [user_clients.open(driver, task, 0) for _ in range(3)]
    assert all(isinstance(c, Connection) for c in opened)
    assert user_clients.open(driver, task, 0) == IOReturn.NO_RESOURCES
    other = OwningTask(77, task.uid + 1, 20, "other")
    assert isinstance(user_clients.open(driver, other, 0), Connection)  # another user's own
    user_clients.close(opened[0])  # type: ignore[arg-type]
    assert isinstance(user_clients.open(driver, task, 0), Connection)
    user_clients.died(opened[1])  # type: ignore[arg-type]
    assert isinstance(user_clients.open(driver, task, 0), Connection)
    assert user_clients.open(driver, task, 0) == IOReturn.NO_RESOURCES


def test_a_client_the_driver_hands_out_again_after_its_close_is_refused_and_named(
        uc_host: IOKitHost, user_clients: UserClients, driver: IOService,
        task: OwningTask, test_kext: Any) -> None:
    """A driver that keeps the user client it made and returns it from every
    ``new_user_client``: the first connection's close terminated it, so a second open would
    get a connection whose every call fails, the client left in the registry inactive for
    ever. That open fails, naming the driver; the first open and its close are as ever."""
    kept = test_kext.TestUserClient()
    driver.new_user_client = lambda *args: kept  # type: ignore[method-assign]
    first = user_clients.open(driver, task, 5)
    assert isinstance(first, Connection)
    user_clients.close(first)
    assert user_clients.open(driver, task, 5) == IOReturn.INTERNAL_ERROR
    (diagnostic,) = uc_host.diagnostics
    assert diagnostic.reference == "user-client-new-invalid"
    assert "already terminated" in diagnostic.message and "TestUCDriver" in diagnostic.message
    assert _user_clients_in(uc_host) == []
