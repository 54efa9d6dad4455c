"""The SDK's dispatch: checks in IOKit's order, each kIOReturnBadArgument; 2022's extras."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sdk.returns import IOReturn
from iokit_sdk.userclient import (
    IOExternalMethodArguments,
    IOExternalMethodDispatch,
    IOExternalMethodDispatch2022,
    IOUserClient,
    IOUserClient2022,
    OSAsyncReference64,
    OwningTask,
    check_arguments,
    kIOConnectMethodVarOutputSize,
    kIOUCVariableStructureSize,
)

VAR = kIOUCVariableStructureSize


def _ok(target: Any, reference: Any, args: IOExternalMethodArguments) -> int:
    args.scalar_output[-1] = 1
    return IOReturn.SUCCESS


def test_checks_skip_variable_entries_and_zero_fill_outputs() -> None:
    args = IOExternalMethodArguments(0, (1, 2), b"xyz", 3, 0)
    assert args.scalar_output == [0, 0, 0]
    assert check_arguments(args, IOExternalMethodDispatch(_ok, VAR, VAR, 3, VAR)) == 0
    assert check_arguments(args, IOExternalMethodDispatch(_ok, 2, 3, 2, 0)) == \
        IOReturn.BAD_ARGUMENT


def test_a_variable_size_output_is_checked_as_size_zero() -> None:
    """``io_connect_method_var_output`` carries an inband output capacity of 0 (IOKitLib)."""
    args = IOExternalMethodArguments(0, structure_output_size=kIOConnectMethodVarOutputSize)
    assert check_arguments(args, IOExternalMethodDispatch(_ok, 0, 0, 0, 0)) == 0
    assert check_arguments(args, IOExternalMethodDispatch(_ok, 0, 0, 0, 3)) == \
        IOReturn.BAD_ARGUMENT
    assert check_arguments(args, IOExternalMethodDispatch(_ok, 0, 0, 0, VAR)) == 0


def test_the_legacy_client_without_a_table_is_unsupported() -> None:
    client = IOUserClient()
    args = IOExternalMethodArguments(0)
    assert client.external_method(0, args) == IOReturn.UNSUPPORTED
    # Out-of-line structures (past 4096 bytes) are refused before the method lookup.
    assert client.external_method(0, IOExternalMethodArguments(0, (), bytes(4097))) == \
        IOReturn.IPC_ERROR
    assert client.external_method(0, IOExternalMethodArguments(
        0, structure_output_size=4097)) == IOReturn.IPC_ERROR
    assert client.external_method(0, IOExternalMethodArguments(
        0, (), bytes(4096), structure_output_size=kIOConnectMethodVarOutputSize)) == \
        IOReturn.UNSUPPORTED
    assert client.external_method(0, args, IOExternalMethodDispatch(None)) == \
        IOReturn.NO_COMPLETION
    assert client.external_method(0, IOExternalMethodArguments(0, scalar_output_count=1),
                                  IOExternalMethodDispatch(_ok, 0, 0, 1, 0)) == 0


def test_2022_counts_before_async_before_entitlement_as_xnu() -> None:
    """``IOUserClient2022::dispatchExternalMethod`` checks the counts, then async, then the
    entitlement (xnu 8792 to 11417 alike)."""
    def method(target: Any, reference: Any, args: IOExternalMethodArguments) -> int:
        return 0x1234

    class Client(IOUserClient2022):
        dispatch_table = (IOExternalMethodDispatch2022(method, 1, 0, 0, 0,
                                                       check_entitlement="com.x"),)

    client = Client()
    reference = OSAsyncReference64((0,), lambda result, args: 0)
    stranger = OwningTask(1, 1, 1, "s")
    insider = OwningTask(1, 1, 1, "s", entitlements=frozenset({"com.x"}))
    call = IOExternalMethodArguments(0, async_reference=reference, task=stranger)
    assert client.external_method(0, call) == IOReturn.BAD_ARGUMENT  # one scalar short
    call.scalar_input = (1,)
    assert client.external_method(0, call) == IOReturn.BAD_ARGUMENT  # async, not allowed
    call.async_reference = None
    assert client.external_method(0, call) == IOReturn.NOT_PRIVILEGED  # only now
    call.task = insider
    assert client.external_method(0, call) == 0x1234
    assert client.external_method(1, call) == IOReturn.BAD_ARGUMENT  # past the table
    assert client.dispatch_external_method(0, call, None, client, None) == IOReturn.ERROR


_COUNTS = st.sampled_from([0, 1, 2, VAR])


@settings(max_examples=150, deadline=None)
@given(entry=st.tuples(_COUNTS, _COUNTS, _COUNTS, _COUNTS),
       call=st.tuples(*[st.integers(0, 2)] * 4), selector=st.integers(-1, 2))
def test_2022_dispatch_checks_what_the_base_class_checks(
        entry: tuple[int, int, int, int], call: tuple[int, int, int, int], selector: int) -> None:
    """IOUserClient2022 writes IOUserClient.external_method's checks out (every call runs
    them): for any entry and any call, the outcome is the base class's."""
    def method(target: Any, reference: Any, args: IOExternalMethodArguments) -> int:
        return 0x1234

    class Client(IOUserClient2022):
        dispatch_table = (IOExternalMethodDispatch2022(method, *entry),)

    def arguments() -> IOExternalMethodArguments:
        return IOExternalMethodArguments(0, (7,) * call[0], b"x" * call[1], call[2], call[3])

    got = Client().external_method(selector, arguments())
    if selector != 0:
        assert got == IOReturn.BAD_ARGUMENT  # past the table
    else:
        assert got == IOUserClient().external_method(0, arguments(), Client.dispatch_table[0])
