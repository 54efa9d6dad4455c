"""IOReturn: the kernel's result codes (``iokit/IOKit/IOReturn.h``), for the user-client boundary.

Inside the host errors are exceptions; these codes appear only where IOKit returns them to
user space. Values are ``iokit_common_err(x) = 0xE0000000 | x``.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["MACH_SEND_INVALID_DEST", "MIG_ARRAY_TOO_LARGE", "IOReturn", "IOReturnError",
           "return_name"]


class IOReturn(IntEnum):
    SUCCESS = 0
    ERROR = 0xE00002BC
    NO_MEMORY = 0xE00002BD
    NO_RESOURCES = 0xE00002BE
    IPC_ERROR = 0xE00002BF
    NO_DEVICE = 0xE00002C0
    NOT_PRIVILEGED = 0xE00002C1
    BAD_ARGUMENT = 0xE00002C2
    LOCKED_READ = 0xE00002C3
    LOCKED_WRITE = 0xE00002C4
    EXCLUSIVE_ACCESS = 0xE00002C5
    BAD_MESSAGE_ID = 0xE00002C6
    UNSUPPORTED = 0xE00002C7
    VM_ERROR = 0xE00002C8
    INTERNAL_ERROR = 0xE00002C9
    IO_ERROR = 0xE00002CA
    CANNOT_LOCK = 0xE00002CC
    NOT_OPEN = 0xE00002CD
    NOT_READABLE = 0xE00002CE
    NOT_WRITABLE = 0xE00002CF
    NOT_ALIGNED = 0xE00002D0
    BAD_MEDIA = 0xE00002D1
    STILL_OPEN = 0xE00002D2
    RLD_ERROR = 0xE00002D3
    DMA_ERROR = 0xE00002D4
    BUSY = 0xE00002D5
    TIMEOUT = 0xE00002D6
    OFFLINE = 0xE00002D7
    NOT_READY = 0xE00002D8
    NOT_ATTACHED = 0xE00002D9
    NO_CHANNELS = 0xE00002DA
    NO_SPACE = 0xE00002DB
    PORT_EXISTS = 0xE00002DD
    CANNOT_WIRE = 0xE00002DE
    NO_INTERRUPT = 0xE00002DF
    NO_FRAMES = 0xE00002E0
    MESSAGE_TOO_LARGE = 0xE00002E1
    NOT_PERMITTED = 0xE00002E2
    NO_POWER = 0xE00002E3
    NO_MEDIA = 0xE00002E4
    UNFORMATTED_MEDIA = 0xE00002E5
    UNSUPPORTED_MODE = 0xE00002E6
    UNDERRUN = 0xE00002E7
    OVERRUN = 0xE00002E8
    DEVICE_ERROR = 0xE00002E9
    NO_COMPLETION = 0xE00002EA
    ABORTED = 0xE00002EB
    NO_BANDWIDTH = 0xE00002EC
    NOT_RESPONDING = 0xE00002ED
    ISO_TOO_OLD = 0xE00002EE
    ISO_TOO_NEW = 0xE00002EF
    NOT_FOUND = 0xE00002F0
    INVALID = 0xE0000001


#: A ``kern_return_t`` an ``IOConnectCall*Method`` returns without reaching the kernel: MIG's
#: user stub refuses an inline array past its bound (``mach/mig_errors.h``, -307).
MIG_ARRAY_TOO_LARGE = -307 & 0xFFFFFFFF
#: What ``sendAsyncResult64`` returns when the caller's port is gone (the process died, or
#: destroyed its notification port): the ``kern_return_t`` of the Mach send it makes
#: (``mach/message.h``; ``IOUserClient::_sendAsyncResult64`` returns it as it is).
MACH_SEND_INVALID_DEST = 0x10000003
_MACH_NAMES = {MIG_ARRAY_TOO_LARGE: "MIG_ARRAY_TOO_LARGE",
               MACH_SEND_INVALID_DEST: "MACH_SEND_INVALID_DEST"}

#: Apple's spelling where title case of the member name is not it (``kIOReturnIPCError``).
_ACRONYMS = {"Ipc": "IPC", "Vm": "VM", "Io": "IO", "Rld": "RLD", "Dma": "DMA", "Id": "ID"}


def return_name(code: int) -> str:
    """``kIOReturnBadArgument`` for 0xE00002C2; an unknown code as ``0x........``."""
    try:
        member = IOReturn(code)
    except ValueError:
        return _MACH_NAMES.get(code & 0xFFFFFFFF, f"0x{code & 0xFFFFFFFF:08x}")
    words = [_ACRONYMS.get(word.title(), word.title()) for word in member.name.split("_")]
    return "kIOReturn" + "".join(words)


class IOReturnError(Exception):
    """A call across the user-client boundary failed with an IOReturn other than success.

    IOKitLib returns the code; here the call raises this, carrying ``code`` and its ``name``
    (``kIOReturnBadArgument``), so ``except IOReturnError as e: if e.code == IOReturn.BUSY``
    reads as the C does.
    """

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = int(code)
        self.name = return_name(self.code)
        text = f"{self.name} (0x{self.code & 0xFFFFFFFF:08x})"
        super().__init__(f"{text}: {message}" if message else text)
