"""What a program is given of a driver's buffer (``IOConnectMapMemory``'s mapping): a
descriptor of its pages and its size.

IOKit reads an ``IOMemoryDescriptor``'s pages and length in the kernel's own code. Here the
descriptor ``client_memory_for_type`` returns is the driver's object: a subclass's ``fileno``,
``released`` or ``length`` is the driver's code, and its attributes hold whatever the driver
set. So they are read inside a guarded driver call (one that raises, ``SystemExit`` included,
or hangs is that driver's fault, reported, and the caller gets ``kIOReturnInternalError``;
read in the kernel's request handler, they stopped the kernel) and what they give is checked
before it is passed on: a size of 1 to ``MAX_BUFFER`` bytes and a descriptor of a regular file
holding at least that many, which a program can map without faulting.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iokit_sdk.memory import MAX_BUFFER, IOBufferMemoryDescriptor
from iokit_sdk.returns import IOReturn
from iokit_sdk.userclient import IOUserClient

from iokit_host.errors import Diagnostic, Severity
from iokit_host.kernel.driver_calls import DriverFault, described
from iokit_host.kernel.driver_results import short_repr

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["MemoryGrant", "buffer_problem", "grant", "shareable"]

#: Makes a new descriptor of a buffer's pages (the caller closes it), or None.
DescriptorOf = Callable[[IOBufferMemoryDescriptor], "int | None"]


@dataclass(frozen=True, slots=True)
class MemoryGrant:
    """A descriptor of a buffer's pages (the receiver closes it) and the size to map."""

    fd: int
    size: int


def shareable(memory: IOBufferMemoryDescriptor) -> int:
    """Whether ``memory`` can be mapped by a program: ``kIOReturnSuccess``,
    ``kIOReturnBadArgument`` when released, ``kIOReturnUnsupported`` for anonymous memory.
    Run it as a driver call: the attributes it reads are the driver's object's."""
    if memory.released:
        return IOReturn.BAD_ARGUMENT
    return IOReturn.SUCCESS if memory.path is not None else IOReturn.UNSUPPORTED


def grant(kernel: WorkLoop, client: IOUserClient, memory: IOBufferMemoryDescriptor,
          descriptor_of: DescriptorOf) -> MemoryGrant | int:
    """``memory`` as a program maps it, or the IOReturn to answer instead."""
    read = kernel.driver_calls.call(_read, memory, descriptor_of)
    if isinstance(read, DriverFault):
        _report(kernel, client, read.reference("user-client-memory-raised"),
                read.reason(f"reading the memory {described(client)} handed out"))
        return IOReturn.INTERNAL_ERROR
    size, fd = read
    if fd is None:
        return IOReturn.NO_RESOURCES
    problem = buffer_problem(fd, size)
    if problem is not None:
        os.close(fd)
        _report(kernel, client, "user-client-memory-invalid",
                f"{described(client)} handed out memory with {problem}")
        return IOReturn.INTERNAL_ERROR
    return MemoryGrant(fd, size)


def _read(memory: IOBufferMemoryDescriptor, descriptor_of: DescriptorOf
          ) -> tuple[object, int | None]:
    size = memory.length  # first: a descriptor made before a raise would be left open
    return size, descriptor_of(memory)


def buffer_problem(fd: int, size: object) -> str | None:
    """What is wrong with a buffer handed out as ``size`` bytes in ``fd`` (a program maps
    it: a size past the file faults it), said for a diagnostic; None when nothing is. The
    size may be a driver's object: it is named without running its code."""
    if type(size) is not int or not 0 < size <= MAX_BUFFER:
        return f"a length of {short_repr(size)} (1 to {MAX_BUFFER} bytes)"
    try:
        info = os.fstat(fd)
    except OSError as error:
        return f"a descriptor that cannot be read ({error.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return "a descriptor that is not a memory buffer"
    if info.st_size < size:
        return f"a buffer of {info.st_size} bytes claimed as {size}"
    return None


def _report(kernel: WorkLoop, client: IOUserClient, reference: str, message: str) -> None:
    kernel.report(Diagnostic(reference, message, subject=client.iokit_class_name,
                             severity=Severity.ERROR,
                             hint="the caller got kIOReturnInternalError; the kernel and other "
                                  "clients go on"))
