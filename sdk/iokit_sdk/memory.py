"""IOBufferMemoryDescriptor: memory a driver shares with a program (``IOConnectMapMemory``).

A driver hands a program memory from its user client's ``client_memory_for_type(type)``; the
program maps it with ``IOConnectMapMemory`` and both see the same bytes (IOKit maps the
descriptor's pages into the task). Here a descriptor made in a running kernel is an ``mmap`` of
a file in the kernel's private runtime directory (:attr:`IOBufferMemoryDescriptor.backing_directory`,
set by ``iokit kernel``; 0700, the kernel's user's own), and the kernel passes the program a
descriptor of that file (``SCM_RIGHTS``), never its name; without a running kernel it is
anonymous memory. :meth:`release` unmaps it and removes the file (a mapping the program
already has stays valid, as a Mach mapping outlives the descriptor's last reference in the
kernel).
"""

from __future__ import annotations

import mmap
import os
from typing import ClassVar, Self

__all__ = ["MAX_BUFFER", "IOBufferMemoryDescriptor", "IOMemoryDescriptor"]

#: The largest buffer a descriptor holds here (64 MiB).
MAX_BUFFER = 64 << 20


class IOBufferMemoryDescriptor:
    """A buffer of ``capacity`` bytes, zero-filled (``IOBufferMemoryDescriptor::withCapacity``).

    :raises ValueError: a capacity below 1 or over :data:`MAX_BUFFER`.
    """

    #: Where shared buffers are backed (None: anonymous memory, not shareable). In a driver
    #: process (a dext) the default is the directory its kernel made for it,
    #: ``$IOKIT_DEXT_MEMORY_DIR``, so the kernel can pass its buffers on to programs.
    backing_directory: ClassVar[str | None] = None

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) \
                or not 0 < capacity <= MAX_BUFFER:
            raise ValueError(f"a buffer holds 1 to {MAX_BUFFER} bytes, not {capacity!r}")
        self.length = capacity
        self.path: str | None = None
        directory = type(self).backing_directory or _driver_process_directory()
        if directory is None:
            self._map = mmap.mmap(-1, capacity)
            return
        import tempfile  # here: a driver process that makes no buffer never pays for it

        fd, self.path = tempfile.mkstemp(prefix="mem-", dir=directory)
        try:
            os.ftruncate(fd, capacity)
            self._map = mmap.mmap(fd, capacity)
        finally:
            os.close(fd)

    @classmethod
    def with_capacity(cls, capacity: int) -> Self:
        return cls(capacity)

    def get_bytes_no_copy(self) -> memoryview:
        """The buffer itself: writes are seen by every mapping (``getBytesNoCopy``)."""
        return memoryview(self._map)

    def write_bytes(self, offset: int, data: bytes) -> int:
        """Copy ``data`` in at ``offset``; returns how many bytes fit (``writeBytes``)."""
        if not 0 <= offset <= self.length:
            return 0
        count = min(len(data), self.length - offset)
        self._map[offset:offset + count] = data[:count]
        return count

    def read_bytes(self, offset: int, length: int) -> bytes:
        if not 0 <= offset <= self.length or length < 0:
            return b""
        return bytes(self._map[offset:offset + length])

    @property
    def released(self) -> bool:
        return self._map.closed

    def release(self) -> None:
        """Drop the buffer; its backing file goes (mappings programs hold stay)."""
        if not self._map.closed:
            self._map.close()
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.path = None


def _driver_process_directory() -> str | None:
    directory = os.environ.get("IOKIT_DEXT_MEMORY_DIR")
    return directory if directory and os.path.isdir(directory) else None


IOMemoryDescriptor = IOBufferMemoryDescriptor
