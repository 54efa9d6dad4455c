"""``IOConnectMapMemory``: a driver's memory, mapped into this process.

C returns the address and size through out-parameters; here the mapping itself comes back, an
``mmap`` of the descriptor's pages (``len(mapping)`` is the size): what the driver writes is
read from it, and what the program writes the driver sees. ``IOConnectUnmapMemory`` (or
closing the mapping) unmaps it. The kernel passes the memory itself with its reply, as a file
descriptor (``SCM_RIGHTS``, as a Mach reply carries the memory entry's port right): the
program never opens a file of the kernel's, so any process the kernel admits (one of another
uid admitted by ``--group`` too) maps it, and nothing of the kernel's is readable by name.
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
    port = _owner(connect)
    reply, fds = port.request_fds("map_memory", connect=int(connect), type=memoryType)
    try:
        code = reply.get("ret", IOReturn.SUCCESS)
        if code != IOReturn.SUCCESS:
            message = reply.get("message")
            raise IOReturnError(code, message if isinstance(message, str) else None)
        size = reply.get("size")
        if len(fds) != 1 or type(size) is not int or size <= 0:
            raise IOReturnError(IOReturn.INTERNAL_ERROR, "the kernel's map_memory reply is not "
                                "one this library reads (one descriptor and a size)")
        return _map(fds[0], size)
    finally:
        for fd in fds:
            os.close(fd)


def _map(fd: int, size: int) -> mmap.mmap:
    """``size`` bytes of the memory behind ``fd``, shared with the kernel."""
    try:
        held = os.fstat(fd).st_size
    except OSError as error:
        raise IOReturnError(IOReturn.INTERNAL_ERROR,
                            f"the kernel's memory cannot be read: {error.strerror}") from error
    if held < size:  # mapping past the end would fault on first touch
        raise IOReturnError(IOReturn.INTERNAL_ERROR, f"the kernel passed {held} bytes of "
                            f"memory for a mapping of {size}")
    try:
        return mmap.mmap(fd, size)
    except (OSError, ValueError) as error:
        raise IOReturnError(IOReturn.NOT_PERMITTED,
                            f"the kernel's memory cannot be mapped: {error}") from error


def IOConnectUnmapMemory(connect: io_connect_t, memoryType: int, fromTask: task_t | int,
                         atAddress: mmap.mmap) -> int:
    """Unmap what :func:`IOConnectMapMemory` returned."""
    atAddress.close()
    return IOReturn.SUCCESS
