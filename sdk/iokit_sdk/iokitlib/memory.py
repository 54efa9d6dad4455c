"""``IOConnectMapMemory``: a driver's memory, mapped into this process.

C returns the address and size through out-parameters; here the mapping itself comes back, an
``mmap`` of the descriptor's pages (``len(mapping)`` is the size): what the driver writes is
read from it, and what the program writes the driver sees. ``IOConnectUnmapMemory`` (or
closing the mapping) unmaps it. The kernel names a file in its private runtime directory;
a process that may not open it (another user the kernel admits by ``--group``) gets
``kIOReturnNotPermitted``.
"""

from __future__ import annotations

import mmap
import os

from iokit_sdk.iokitlib.api import _owner
from iokit_sdk.iokitlib.objects import io_connect_t, task_t
from iokit_sdk.returns import IOReturn, IOReturnError

__all__ = ["IOConnectMapMemory", "IOConnectUnmapMemory", "kIOMapAnywhere", "kIOMapDefaultCache"]

kIOMapAnywhere = 0x00000001
kIOMapDefaultCache = 0x00000000


def IOConnectMapMemory(connect: io_connect_t, memoryType: int, intoTask: task_t | int,
                       options: int = kIOMapAnywhere) -> mmap.mmap:
    """Map the memory of ``memoryType`` the user client gives (``clientMemoryForType``)."""
    reply = _owner(connect).call("map_memory", connect=int(connect), type=memoryType)
    path, size = reply.get("path"), reply.get("size")
    if not isinstance(path, str) or not isinstance(size, int) or size <= 0:
        raise IOReturnError(IOReturn.INTERNAL_ERROR, "the kernel's map_memory reply is not "
                                                     "one this library reads")
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        raise IOReturnError(IOReturn.NOT_PERMITTED, f"cannot open the kernel's shared memory "
                                                    f"{path}: {error.strerror}") from error
    try:
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


def IOConnectUnmapMemory(connect: io_connect_t, memoryType: int, fromTask: task_t | int,
                         atAddress: mmap.mmap) -> int:
    """Unmap what :func:`IOConnectMapMemory` returned."""
    atAddress.close()
    return IOReturn.SUCCESS
