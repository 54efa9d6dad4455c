"""A driver process's shared memory: ``CopyClientMemoryForType`` on the dext's side.

In DriverKit a user client's ``CopyClientMemoryForType`` returns an ``IOMemoryDescriptor`` the
kernel maps into the program's task: the dext, the kernel and the program then share the same
pages. Here the driver's :class:`~iokit_sdk.memory.IOBufferMemoryDescriptor` is backed by a
file in a directory the kernel made for this process (``IOKIT_DEXT_MEMORY_DIR``, which the
SDK's buffers default to in a driver process), and :meth:`ClientMemory.share` hands the kernel
a descriptor of it (``SCM_RIGHTS`` on the reply): the kernel passes the memory on to the
program without ever copying a byte. Nothing here is imported before a driver shares memory:
a driver process's start-up stays as cheap as a bare interpreter's.
"""

from __future__ import annotations

import os
from typing import Any

from iokit_sdk.returns import IOReturn

__all__ = ["MEMORY_DIR_ENV", "ClientMemory", "remove_memory_directory"]

#: The environment variable naming the directory this process's buffers live in.
MEMORY_DIR_ENV = "IOKIT_DEXT_MEMORY_DIR"


def remove_memory_directory() -> None:
    """Remove this process's buffers and their directory (the kernel is gone and cannot)."""
    directory = os.environ.get(MEMORY_DIR_ENV)
    if not directory:
        return
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:  # the buffers' files: the directory holds nothing else
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass
    try:
        os.rmdir(directory)
    except OSError:
        pass


class ClientMemory:
    """The memory each user client of this process has handed out, by object number (kept so
    a buffer lives as long as its client, as the descriptor's retain does)."""

    def __init__(self) -> None:
        self._given: dict[int, list[Any]] = {}

    def share(self, obj: int, made: Any) -> tuple[int, int] | int:
        """What ``client_memory_for_type`` returned, as (a new descriptor of its pages, its
        length) for the kernel, or the IOReturn to answer instead."""
        from iokit_sdk.memory import IOBufferMemoryDescriptor  # the driver imported it already

        if isinstance(made, int) and not isinstance(made, bool):
            return made & 0xFFFFFFFF if made != IOReturn.SUCCESS else IOReturn.BAD_ARGUMENT
        if not isinstance(made, IOBufferMemoryDescriptor) or made.released:
            return IOReturn.BAD_ARGUMENT
        fd = _descriptor_fd(made)
        if fd is None:
            return IOReturn.UNSUPPORTED  # anonymous memory: nothing another process can map
        given = self._given.setdefault(obj, [])
        if not any(held is made for held in given):
            given.append(made)
        return fd, made.length

    def release(self, obj: int) -> None:
        """The client is gone: drop this process's references to what it handed out."""
        self._given.pop(obj, None)


def _descriptor_fd(memory: Any) -> int | None:
    """A new descriptor of ``memory``'s pages (the caller closes it), or None."""
    fileno = getattr(memory, "fileno", None)
    if callable(fileno):
        try:
            return os.dup(int(fileno()))
        except (OSError, TypeError, ValueError):
            return None
    path = getattr(memory, "path", None)
    if not isinstance(path, str):
        return None
    try:
        return os.open(path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
