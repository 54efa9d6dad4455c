"""One call: the transport limits, the dispatch checks in IOKit's order, the outputs (§7.3)."""

from __future__ import annotations

from typing import Any

import pytest
from hostilekit import HostileBytes, HostileInt, HostileList, HostileObject
from hostkit import driven_watchdog
from iokit_sdk import IOReturn, IOService
from iokit_sdk.userclient import (
    IOExternalMethodArguments,
    IOExternalMethodDispatch2022,
    OSAsyncReference64,
    OwningTask,
    kIOConnectMethodVarOutputSize,
)

from iokit_host.host import IOKitHost
from iokit_host.userclient.calls import CallRequest
from iokit_host.userclient.connections import Connection, UserClients


@pytest.fixture
def connection(user_clients: UserClients, driver: IOService, task: OwningTask) -> Connection:
    opened = user_clients.open(driver, task, 0)
    assert isinstance(opened, Connection)
    return opened


def _call(user_clients: UserClients, connection: Connection, selector: int,
          scalars: tuple[int, ...] = (), structure: bytes = b"", scalar_out: int = 0,
          struct_out: int = 0, async_reference: OSAsyncReference64 | None = None) -> Any:
    return user_clients.call(connection, CallRequest(selector, scalars, structure, scalar_out,
                                                     struct_out, async_reference))


def test_appendix_b_7_a_scalar_out_count_other_than_the_entrys_is_bad_argument(
        user_clients: UserClients, connection: Connection) -> None:
    assert _call(user_clients, connection, 0, (5,), scalar_out=1).ret == IOReturn.BAD_ARGUMENT
    assert _call(user_clients, connection, 0, (5,), scalar_out=0).ret == IOReturn.SUCCESS
    assert _call(user_clients, connection, 1, scalar_out=1).scalars == (5,)


@pytest.mark.parametrize(("scalars", "structure", "scalar_out", "struct_out"), [
    ((1,), b"", 0, 0),  # scalar-in count
    ((), b"x", 0, 0),  # struct-in size
    ((), b"", 1, 0),  # scalar-out count
    ((), b"", 0, 4),  # struct-out size
])
def test_each_check_is_exact_equality(user_clients: UserClients, connection: Connection,
                                      scalars: tuple[int, ...], structure: bytes,
                                      scalar_out: int, struct_out: int) -> None:
    entry = IOExternalMethodDispatch2022(lambda *a: IOReturn.SUCCESS, 0, 0, 0, 0)
    connection.client.dispatch_table = (entry,)  # type: ignore[attr-defined]
    assert _call(user_clients, connection, 0, scalars, structure, scalar_out,
                 struct_out).ret == IOReturn.BAD_ARGUMENT
    assert _call(user_clients, connection, 0).ret == IOReturn.SUCCESS


def test_variable_sizes_skip_the_check_and_outputs_come_back(
        user_clients: UserClients, connection: Connection) -> None:
    result = _call(user_clients, connection, 2, structure=b"abc",
                   struct_out=kIOConnectMethodVarOutputSize)
    assert (result.ret, result.structure) == (IOReturn.SUCCESS, b"cba")
    assert _call(user_clients, connection, 2, structure=b"abc", struct_out=2).ret == \
        IOReturn.NO_SPACE  # the output is larger than the caller's capacity
    assert _call(user_clients, connection, 3, (40, 2), scalar_out=1).scalars == (42,)


def test_selectors_async_entitlements_and_missing_functions(
        user_clients: UserClients, connection: Connection) -> None:
    reference = OSAsyncReference64((0,), lambda result, args: IOReturn.SUCCESS)
    assert _call(user_clients, connection, 8).ret == IOReturn.BAD_ARGUMENT  # past the table
    assert _call(user_clients, connection, 1, scalar_out=1,
                 async_reference=reference).ret == IOReturn.BAD_ARGUMENT  # not allow_async
    assert _call(user_clients, connection, 5, (1,)).ret == IOReturn.NOT_PRIVILEGED
    assert _call(user_clients, connection, 7).ret == IOReturn.NO_COMPLETION


def test_the_method_sees_the_kernels_task_and_an_entitled_one_may_call(
        user_clients: UserClients, driver: IOService) -> None:
    writer = OwningTask(7, 501, 20, "w", entitlements=frozenset({"com.test.userclient.write"}))
    opened = user_clients.open(driver, writer, 0)
    assert isinstance(opened, Connection)
    assert _call(user_clients, opened, 5, (9,)).ret == IOReturn.SUCCESS
    assert _call(user_clients, opened, 1, scalar_out=1).scalars == (9,)


def test_transport_limits_come_before_the_driver(user_clients: UserClients,
                                                 connection: Connection) -> None:
    assert _call(user_clients, connection, 0, tuple(range(17))).ret == IOReturn.BAD_ARGUMENT
    assert _call(user_clients, connection, 1, scalar_out=17).ret == IOReturn.BAD_ARGUMENT
    too_long = OSAsyncReference64(tuple(range(9)), lambda result, args: IOReturn.SUCCESS)
    assert _call(user_clients, connection, 4, async_reference=too_long).ret == \
        IOReturn.BAD_ARGUMENT


def test_a_driver_that_raises_or_returns_nonsense_is_reported_and_the_kernel_goes_on(
        uc_host: IOKitHost, user_clients: UserClients, connection: Connection) -> None:
    assert _call(user_clients, connection, 6).ret == IOReturn.INTERNAL_ERROR
    assert uc_host.diagnostics[-1].reference == "user-client-method-raised"
    provider = connection.client.get_provider()
    assert provider is not None  # the diagnostic names the client's provider, not only a class
    assert f" on {provider.get_name()}" in uc_host.diagnostics[-1].message

    def bad_output(target: Any, reference: Any, args: IOExternalMethodArguments) -> int:
        args.scalar_output[0] = "seven"  # type: ignore[call-overload]
        return IOReturn.SUCCESS

    connection.client.dispatch_table = (  # type: ignore[attr-defined]
        IOExternalMethodDispatch2022(bad_output, 0, 0, 1, 0),
        IOExternalMethodDispatch2022(lambda *a: "fine", 0, 0, 0, 0))
    assert _call(user_clients, connection, 0, scalar_out=1).ret == IOReturn.INTERNAL_ERROR
    assert _call(user_clients, connection, 1).ret == IOReturn.INTERNAL_ERROR
    assert [d.reference for d in uc_host.diagnostics[-2:]] == [
        "user-client-output-invalid", "user-client-method-invalid"]


@pytest.mark.parametrize(("returned", "scalars", "structure", "expected"), [
    # int subclasses are read by value, none of their methods run
    (HostileInt(0), [HostileInt(7)], HostileBytes(b"ab"), (IOReturn.SUCCESS, (7,), b"ab")),
    (HostileInt(int(IOReturn.BUSY)), [0], b"", (IOReturn.BUSY, (), b"")),
    (0, HostileList([HostileInt(3)]), b"", (IOReturn.SUCCESS, (3,), b"")),
    # what is no code or no output is reported, also without running its code
    (HostileObject(), [0], b"", (IOReturn.INTERNAL_ERROR, (), b"")),
    (0, HostileObject(), b"", (IOReturn.INTERNAL_ERROR, (), b"")),
    (0, [HostileObject()], b"", (IOReturn.INTERNAL_ERROR, (), b"")),
    (0, [0], HostileObject(), (IOReturn.INTERNAL_ERROR, (), b"")),
], ids=["int-subclasses", "int-subclass-error", "list-subclass", "object-returned",
        "object-as-scalars", "object-in-scalars", "object-as-structure"])
def test_values_a_method_hands_back_are_read_without_running_the_drivers_code(
        uc_host: IOKitHost, user_clients: UserClients, connection: Connection,
        returned: Any, scalars: Any, structure: Any, expected: tuple[int, tuple[int, ...], bytes],
) -> None:
    """A driver's ``__int__``, ``__iter__``, ``__bytes__`` or ``__repr__`` could raise or hang
    outside the guarded call: the kernel reads the built-in value under them instead."""
    def method(target: Any, reference: Any, args: IOExternalMethodArguments) -> Any:
        args.scalar_output = scalars
        args.structure_output = structure
        return returned

    connection.client.dispatch_table = (  # type: ignore[attr-defined]
        IOExternalMethodDispatch2022(method, 0, 0, 1, 0),)  # 0: as a C driver writes it
    result = _call(user_clients, connection, 0, scalar_out=1,
                   struct_out=kIOConnectMethodVarOutputSize)
    assert (result.ret, result.scalars, result.structure) == expected
    if expected[0] == IOReturn.INTERNAL_ERROR:
        (diagnostic,) = uc_host.diagnostics
        assert diagnostic.subject == "TestUserClient"
        assert "HostileObject" in diagnostic.message
    assert _call(user_clients, connection, 0, scalar_out=1,  # the connection goes on
                 struct_out=kIOConnectMethodVarOutputSize).ret == expected[0]


def test_a_variable_size_output_is_checked_against_the_entry_as_size_zero(
        user_clients: UserClients, connection: Connection) -> None:
    """IOKitLib sends a ``kIOConnectMethodVarOutputSize`` call with an inband capacity of 0,
    so an entry's ``checkStructureOutputSize`` of 0 admits it and any other size refuses it;
    the method still learns it may answer any size."""
    seen: list[int] = []

    def method(target: Any, reference: Any, args: IOExternalMethodArguments) -> int:
        seen.append(args.structure_output_size)
        args.structure_output = b"x" * 5000
        return IOReturn.SUCCESS

    connection.client.dispatch_table = (  # type: ignore[attr-defined]
        IOExternalMethodDispatch2022(method, 0, 0, 0, 0),
        IOExternalMethodDispatch2022(method, 0, 0, 0, 16))
    result = _call(user_clients, connection, 0, struct_out=kIOConnectMethodVarOutputSize)
    assert (result.ret, result.structure) == (IOReturn.SUCCESS, b"x" * 5000)
    assert seen == [kIOConnectMethodVarOutputSize]
    assert _call(user_clients, connection, 1,
                 struct_out=kIOConnectMethodVarOutputSize).ret == IOReturn.BAD_ARGUMENT
    assert _call(user_clients, connection, 1, struct_out=16).ret == IOReturn.NO_SPACE


def test_a_variable_size_call_whose_method_sets_no_output_is_underrun(
        user_clients: UserClients, connection: Connection) -> None:
    """``is_io_connect_method_var_output`` answers ``kIOReturnUnderrun`` for a method that
    succeeds and leaves ``structureVariableOutputData`` unset; an empty output it sets is
    an empty output, and one it builds up from the start is kept."""
    def silent(target: Any, reference: Any, args: IOExternalMethodArguments) -> int:
        return IOReturn.SUCCESS

    def empty(target: Any, reference: Any, args: IOExternalMethodArguments) -> int:
        args.structure_output = b""
        return IOReturn.SUCCESS

    def appends(target: Any, reference: Any, args: IOExternalMethodArguments) -> int:
        args.structure_output += b"ab"
        return IOReturn.SUCCESS

    connection.client.dispatch_table = (  # type: ignore[attr-defined]
        IOExternalMethodDispatch2022(silent, 0, 0, 0, 0),
        IOExternalMethodDispatch2022(empty, 0, 0, 0, 0),
        IOExternalMethodDispatch2022(appends, 0, 0, 0, 0))
    var = kIOConnectMethodVarOutputSize
    assert _call(user_clients, connection, 0, struct_out=var).ret == IOReturn.UNDERRUN
    assert _call(user_clients, connection, 0).ret == IOReturn.SUCCESS  # not a var call
    assert (_call(user_clients, connection, 1, struct_out=var).ret,
            _call(user_clients, connection, 2, struct_out=var).structure) == (0, b"ab")


def test_a_call_after_the_provider_terminated_finds_no_user_client(
        uc_host: IOKitHost, user_clients: UserClients, connection: Connection) -> None:
    """Termination empties the client's port (``destroyUserReferences``): a call, or a map,
    finds no IOUserClient there and ``CHECK`` answers ``kIOReturnBadArgument``; so does a
    call on a connection closed in the meantime."""
    uc_host.unplug("SMC")
    assert connection.client.is_inactive()
    assert _call(user_clients, connection, 1, scalar_out=1).ret == IOReturn.BAD_ARGUMENT
    assert user_clients.memory(connection, 0) == IOReturn.BAD_ARGUMENT
    user_clients.close(connection)
    assert _call(user_clients, connection, 1, scalar_out=1).ret == IOReturn.BAD_ARGUMENT
    assert user_clients.memory(connection, 0) == IOReturn.BAD_ARGUMENT


def test_async_results_go_through_the_reference(user_clients: UserClients,
                                                connection: Connection) -> None:
    sent: list[tuple[int, tuple[int, ...]]] = []

    def deliver(result: int, args: tuple[int, ...]) -> int:
        sent.append((result, args))
        return IOReturn.SUCCESS

    reference = OSAsyncReference64((1, 2), deliver)
    assert _call(user_clients, connection, 4, async_reference=reference).ret == IOReturn.SUCCESS
    _call(user_clients, connection, 0, (31,))
    assert sent == [(IOReturn.SUCCESS, (31,))]
    assert connection.client.send_async_result(reference, 0, list(range(17))) == \
        IOReturn.MESSAGE_TOO_LARGE


def test_a_method_that_hangs_is_abandoned_and_the_kernel_goes_on(
        uc_host: IOKitHost, user_clients: UserClients, connection: Connection) -> None:
    clock = driven_watchdog(uc_host, limit_s=5.0)

    def hang(target: Any, reference: Any, args: IOExternalMethodArguments) -> int:
        while True:
            clock.advance(1.0)

    connection.client.dispatch_table = (  # type: ignore[attr-defined]
        IOExternalMethodDispatch2022(hang, 0, 0, 0, 0),
        IOExternalMethodDispatch2022(lambda *a: IOReturn.SUCCESS, 0, 0, 0, 0))
    assert _call(user_clients, connection, 0).ret == IOReturn.INTERNAL_ERROR
    assert uc_host.diagnostics[-1].reference == "driver-call-timeout"
    assert _call(user_clients, connection, 1).ret == IOReturn.SUCCESS


def test_a_method_may_lower_its_output_count_and_size_as_xnu_returns_them(
        uc_host: IOKitHost, user_clients: UserClients, connection: Connection) -> None:
    """``is_io_connect_method`` hands back ``scalarOutputCount`` and ``structureOutputSize``
    as the method left them: the caller gets what the method said it wrote; a count past
    the caller's capacity is the driver's bug, reported."""
    def fewer(target: Any, reference: Any, args: IOExternalMethodArguments) -> int:
        args.scalar_output[:] = [7, 8]
        args.scalar_output_count = 1
        args.structure_output = b"abcdef"
        args.structure_output_size = 3
        return IOReturn.SUCCESS

    def more(target: Any, reference: Any, args: IOExternalMethodArguments) -> int:
        args.scalar_output_count = 5
        return IOReturn.SUCCESS

    connection.client.dispatch_table = (  # type: ignore[attr-defined]
        IOExternalMethodDispatch2022(fewer, 0, 0, 2, 6),
        IOExternalMethodDispatch2022(more, 0, 0, 2, 0))
    result = _call(user_clients, connection, 0, scalar_out=2, struct_out=6)
    assert (result.ret, result.scalars, result.structure) == (IOReturn.SUCCESS, (7,), b"abc")
    assert _call(user_clients, connection, 1, scalar_out=2).ret == IOReturn.INTERNAL_ERROR
    assert uc_host.diagnostics[-1].reference == "user-client-output-invalid"
    assert "past the caller's 2" in uc_host.diagnostics[-1].message


@pytest.mark.parametrize(("returned", "scalar", "expected", "reference"), [
    (10 ** 100_000, 0, (IOReturn.INTERNAL_ERROR, ()), "user-client-method-invalid"),
    (1 << 32, 0, (IOReturn.INTERNAL_ERROR, ()), "user-client-method-invalid"),
    (0, 10 ** 100, (IOReturn.INTERNAL_ERROR, ()), "user-client-output-invalid"),
    (0, -(1 << 200), (IOReturn.INTERNAL_ERROR, ()), "user-client-output-invalid"),
    (0, -1, (IOReturn.SUCCESS, ((1 << 64) - 1,)), None),
    (0, ((1 << 64) - 1) * 3, (IOReturn.SUCCESS, ((1 << 64) - 3,)), None),  # C's product wraps
    (-536870206, 0, (IOReturn.BAD_ARGUMENT, ()), None),  # a code written as C's int
], ids=["huge-code", "code-past-32-bits", "scalar-past-128-bits", "scalar-below-minus-2**128",
        "minus-one-as-C-writes-it", "a-product-wraps-as-in-C", "negative-code"])
def test_numbers_past_what_C_holds_are_reported_not_truncated(
        uc_host: IOKitHost, user_clients: UserClients, connection: Connection,
        returned: int, scalar: int, expected: tuple[int, tuple[int, ...]],
        reference: str | None) -> None:
    """A code of 10**100000 read as its low 32 bits was kIOReturnSuccess; a scalar of 10**100
    reached the caller as 0. C cannot hold either: the method's fault, said so."""
    def method(target: Any, ref: Any, args: IOExternalMethodArguments) -> int:
        args.scalar_output[0] = scalar
        return returned

    connection.client.dispatch_table = (  # type: ignore[attr-defined]
        IOExternalMethodDispatch2022(method, 0, 0, 1, 0),)
    result = _call(user_clients, connection, 0, scalar_out=1)
    assert (result.ret, result.scalars) == expected
    assert [d.reference for d in uc_host.diagnostics] == ([reference] if reference else [])
