"""``io_connect_method`` against a running kernel: C's argument rules on the caller's side, a
synchronous call as a call frame and its reply, and a call the frame cannot carry sent as a
map with the same outcome."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest
from iokit_sdk.iokitlib import (
    MIG_ARRAY_TOO_LARGE,
    IOConnectCallMethod,
    IOConnectCallScalarMethod,
    IOConnectCallStructMethod,
    IOReturnError,
    IOServiceGetMatchingService,
    IOServiceMatching,
    IOServiceOpen,
    MainPort,
    io_connect_t,
    mach_task_self,
)
from iokit_sdk.iokitlib.method_call import MAX_STRUCT_INPUT
from iokit_sdk.returns import IOReturn
from iokit_sdk.userclient import kIOConnectMethodVarOutputSize
from kernelkit import KernelProcess, kernel, kext_dist

__all__ = ["kernel", "kext_dist"]  # the fixtures this module uses


@pytest.fixture
def connection(kernel: KernelProcess) -> Iterator[io_connect_t]:
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        yield IOServiceOpen(service, mach_task_self(), 0)


def test_scalars_and_structures_travel_both_ways(connection: io_connect_t) -> None:
    assert IOConnectCallScalarMethod(connection, 3, [40, 2], 1) == (42,)
    assert IOConnectCallScalarMethod(connection, 3, [-1, 1], 1) == (0,)  # uint64_t wraps
    assert IOConnectCallStructMethod(connection, 2, b"abc", kIOConnectMethodVarOutputSize) \
        == b"cba"
    assert IOConnectCallMethod(connection, 2, (), b"x" * 5000, 0, 5000) == ((), b"x" * 5000)


def test_scalars_of_any_integer_kind_and_container_arrive_as_uint64(
        connection: io_connect_t) -> None:
    """The call frame is packed from the caller's own values when they are plain ints in a
    list or tuple; anything else (an iterator, an int subclass, a value past 64 bits) takes
    the checked way and arrives the same."""
    scalars = iter([40, 2])  # an iterator, which the Sequence annotation does not admit
    assert IOConnectCallScalarMethod(connection, 3, scalars, 1) == (42,)  # type: ignore[arg-type]
    assert IOConnectCallScalarMethod(connection, 3, (IOReturn.NOT_READY, 0), 1) == \
        (int(IOReturn.NOT_READY),)
    assert IOConnectCallScalarMethod(connection, 3, [(1 << 64) + 5, 1], 1) == (6,)
    assert IOConnectCallScalarMethod(connection, 3 - (1 << 32), [1, 1], 1) == (2,)  # uint32_t


@pytest.mark.parametrize(("selector", "scalars", "count", "name"), [
    (6, [], 0, "kIOReturnInternalError"),  # the method raised
    (7, [], 0, "kIOReturnNoCompletion"),  # an entry without a function
    (99, [], 0, "kIOReturnBadArgument"),  # past the table
    (3, [1], 1, "kIOReturnBadArgument"),  # a scalar short
    (3, [1, 2], 2, "kIOReturnBadArgument"),  # the output count must equal the entry's
])
def test_a_failing_ioreturn_is_raised_with_its_name(connection: io_connect_t, selector: int,
                                                    scalars: list[int], count: int,
                                                    name: str) -> None:
    with pytest.raises(IOReturnError, match=name):
        IOConnectCallScalarMethod(connection, selector, scalars, count)
    assert IOConnectCallScalarMethod(connection, 3, [1, 2], 1) == (3,)  # and it goes on


def test_the_callers_own_checks_come_first(connection: io_connect_t) -> None:
    with pytest.raises(IOReturnError, match="MIG_ARRAY_TOO_LARGE") as raised:
        IOConnectCallScalarMethod(connection, 3, [0] * 17, 1)  # MIG's stub: -307
    assert raised.value.code == MIG_ARRAY_TOO_LARGE == 0xFFFFFECD
    with pytest.raises(IOReturnError, match="kIOReturnIPCError"):
        IOConnectCallStructMethod(connection, 2, b"", 1 << 32)  # a size_t past UINT_MAX
    with pytest.raises(IOReturnError, match="kIOReturnIPCError"):
        IOConnectCallStructMethod(connection, 2, b"", -1)  # (size_t)-1
    with pytest.raises(IOReturnError, match="kIOReturnMessageTooLarge"):
        IOConnectCallStructMethod(connection, 2, bytes(MAX_STRUCT_INPUT + 1), 0)
    with pytest.raises(TypeError, match="not bool"):
        IOConnectCallScalarMethod(connection, 3, [True, 2], 1)
    with pytest.raises(IOReturnError, match="kIOReturnBadArgument"):
        IOConnectCallScalarMethod(io_connect_t(0), 3, [1, 2], 1)  # IO_OBJECT_NULL


def test_an_output_count_past_16_is_sent_as_16_as_mig_does(connection: io_connect_t) -> None:
    """``scalar_output`` is a ``CountInOut`` array: MIG's stub sends the smaller of the
    caller's count and 16, so the kernel checks 16 against the entry, not 17."""
    with pytest.raises(IOReturnError, match="kIOReturnBadArgument"):
        IOConnectCallScalarMethod(connection, 3, [1, 2], 17)  # the entry's count is 1, not 16
    with pytest.raises(IOReturnError, match="kIOReturnBadArgument"):
        IOConnectCallScalarMethod(connection, 3, [1, 2], -1)  # no uint32_t
    connection_port = connection.main_port
    assert connection_port is not None
    service = IOServiceGetMatchingService(connection_port, IOServiceMatching("TestUCDriver"))
    wide = IOServiceOpen(service, mach_task_self(), 0)
    assert IOConnectCallScalarMethod(wide, 9, [], 40) == tuple(range(16))  # entry: 16 out


def test_what_the_frame_cannot_carry_goes_as_a_map_with_the_same_outcome(
        connection: io_connect_t) -> None:
    # A capacity that is not an integer: the kernel's checks refuse it, as they always did.
    with pytest.raises(IOReturnError, match="kIOReturnBadArgument"):
        IOConnectCallScalarMethod(connection, 3, [1, 2], 1.0)  # type: ignore[arg-type]
    # Four billion calls later the ids no longer fit the frame: calls go on as maps.
    port = connection.main_port
    assert port is not None
    port._ids = itertools.count(1 << 32)
    assert IOConnectCallScalarMethod(connection, 3, [5, 6], 1) == (11,)
    # A handle the kernel never gave past 32 bits: refused, the port still usable.
    with pytest.raises(IOReturnError, match="kIOReturnBadArgument"):
        IOConnectCallScalarMethod(io_connect_t(1 << 40, port), 3, [1, 2], 1)
    assert IOConnectCallScalarMethod(connection, 3, [7, 8], 1) == (15,)


def test_threads_sharing_a_port_each_get_their_own_replies(connection: io_connect_t) -> None:
    wrong: list[tuple[int, int]] = []

    def caller(base: int) -> None:
        for k in range(300):
            (total,) = IOConnectCallScalarMethod(connection, 3, [base, k], 1)
            if total != base + k:
                wrong.append((base, total))

    threads = [threading.Thread(target=caller, args=(n * 1_000_000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert wrong == []
