"""The main port against a running kernel: what a program is told when a request cannot be
sent, and that the connection still serves it afterwards."""

from __future__ import annotations

import pytest
from iokit_sdk.iokitlib import (
    IOConnectCallScalarMethod,
    IOServiceGetMatchingService,
    IOServiceMatching,
    IOServiceOpen,
    KernelConnectionError,
    MainPort,
    mach_task_self,
)
from iokit_sdk.returns import IOReturn, IOReturnError
from kernelkit import KernelFactory, KernelProcess, kernel, kernel_factory, kext_dist

__all__ = ["kernel", "kernel_factory", "kext_dist"]  # the fixtures this module uses


def test_a_value_with_no_wire_form_is_a_bad_argument_and_the_port_goes_on(
        kernel: KernelProcess) -> None:
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        with pytest.raises(IOReturnError) as raised:
            port.request("call", connect=int(connect), selector=1 << 70, scalars=[],
                         struct=b"", scalar_out=0, struct_out=0)
        assert raised.value.code == IOReturn.BAD_ARGUMENT
        assert "cannot be sent to the kernel" in str(raised.value)
        assert IOConnectCallScalarMethod(connect, 3, [40, 2], 1) == (42,)


def test_a_kernel_that_went_away_is_a_connection_error(kernel_factory: KernelFactory) -> None:
    kernel = kernel_factory.start()
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        connect = IOServiceOpen(service, mach_task_self(), 0)
        assert IOConnectCallScalarMethod(connect, 3, [1, 1], 1) == (2,)
        kernel.kill()
        with pytest.raises(KernelConnectionError) as raised:
            for _ in range(3):  # the first send may still be taken by the dead socket
                IOConnectCallScalarMethod(connect, 3, [1, 1], 1)
        assert raised.value.reference == "kernel-gone"
