"""IOReturn names as Apple spells them, and IOReturnError carrying code and name."""

from __future__ import annotations

from iokit_sdk.returns import IOReturn, IOReturnError, return_name


def test_names_are_apples() -> None:
    assert return_name(0) == "kIOReturnSuccess"
    assert return_name(0xE00002C2) == "kIOReturnBadArgument"
    assert return_name(IOReturn.IPC_ERROR) == "kIOReturnIPCError"
    assert return_name(IOReturn.BAD_MESSAGE_ID) == "kIOReturnBadMessageID"
    assert return_name(IOReturn.NOT_FOUND) == "kIOReturnNotFound"
    assert return_name(0x10000009) == "0x10000009"  # no IOReturn, no Mach error we name
    assert return_name(0x10000003) == "MACH_SEND_INVALID_DEST"  # sendAsyncResult64, caller gone


def test_the_error_carries_code_name_and_message() -> None:
    error = IOReturnError(IOReturn.NOT_PRIVILEGED, "needs com.example.write")
    assert error.code == 0xE00002C1 and error.name == "kIOReturnNotPrivileged"
    assert str(error) == "kIOReturnNotPrivileged (0xe00002c1): needs com.example.write"
