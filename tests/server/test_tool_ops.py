"""Tool requests to a real ``iokit kernel`` over its socket: ``tool.explain`` by registry entry
id, as the explorer asks (a name holding a ``/`` has no path that finds it)."""

from __future__ import annotations

from iokit_sdk.iokitlib import (
    IORegistryEntryGetRegistryEntryID,
    IOServiceGetMatchingService,
    IOServiceMatching,
    MainPort,
)
from iokit_sdk.returns import IOReturn
from kernelkit import KernelProcess


def test_explain_by_entry_id_names_the_service_and_refuses_an_id_that_is_none(
        kernel: KernelProcess) -> None:
    with MainPort(kernel.path) as port:
        service = IOServiceGetMatchingService(port, IOServiceMatching("TestUCDriver"))
        entry_id = IORegistryEntryGetRegistryEntryID(service)
        reply = port.request("tool.explain", entry=entry_id)
        assert reply["ret"] == IOReturn.SUCCESS, reply
        by_path = port.request("tool.explain", target=reply["explanation"]["provider"])
        assert reply["explanation"] == by_path["explanation"]
        missing = port.request("tool.explain", entry=0xDEAD)
        assert missing["ret"] == IOReturn.NOT_FOUND
        assert missing["error"]["message"] == "no service with registry entry id 0xdead"
        assert port.request("tool.explain", entry="x")["ret"] == IOReturn.BAD_ARGUMENT
