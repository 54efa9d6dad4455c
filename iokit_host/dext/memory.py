"""A driver process's memory as the kernel holds it: ``IOConnectMapMemory`` on a dext.

``IOConnectMapMemory`` on a dext's user client runs the dext's ``CopyClientMemoryForType``; the
descriptor it returns is the dext's own memory, and the kernel maps those same pages into the
program. Here the driver process passes the kernel a file descriptor of its buffer with the
reply (``SCM_RIGHTS``); the kernel checks it (a regular file of at least the length claimed, in
the directory it made for that process) and holds it as a :class:`DextMemory`, which the
user-client machinery hands to the program like any driver's buffer. The kernel never maps the
pages itself: a driver process may shrink its file, and touching such a mapping would fault
the kernel. What a client was given is released when the client goes or its process dies.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from iokit_sdk.memory import IOBufferMemoryDescriptor
from iokit_sdk.returns import IOReturn

from iokit_host.errors import Diagnostic, Severity

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop

__all__ = ["MAX_GRANTS_PER_CLIENT", "DextMemory", "MemoryGrants"]

#: Descriptors the kernel keeps per client; an older one is released past it (the program's
#: mapping of it stays, as a mapping outlives the kernel's reference).
MAX_GRANTS_PER_CLIENT = 16


class DextMemory(IOBufferMemoryDescriptor):
    """A driver process's buffer: a descriptor of its pages and, when it is a file in the
    process's memory directory, that file's path (what a program maps)."""

    def __init__(self, fd: int, length: int, path: str | None) -> None:
        # Not the base initialiser: these pages are the driver process's, never mapped here.
        self.length = length
        self.path = path
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    @property
    def released(self) -> bool:
        return self._fd < 0

    def release(self) -> None:
        """Close the kernel's descriptor (the file stays the driver process's)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.path = None

    def get_bytes_no_copy(self) -> memoryview:
        raise RuntimeError("a driver process's memory is not mapped into the kernel")

    def write_bytes(self, offset: int, data: bytes) -> int:
        return 0

    def read_bytes(self, offset: int, length: int) -> bytes:
        return b""


class MemoryGrants:
    """What each dext user client handed out, held until the client or its process goes."""

    def __init__(self, kernel: WorkLoop) -> None:
        self.kernel = kernel
        self._grants: dict[int, list[DextMemory]] = {}
        self._servers: dict[int, str] = {}

    def __len__(self) -> int:
        return sum(len(grants) for grants in self._grants.values())

    def adopt(self, server: str, client: object, fd: int | None, claimed: Any,
              directory: str | None) -> DextMemory | int:
        """The buffer behind ``fd`` (taken over: closed on refusal) as the kernel holds it,
        or the IOReturn for a process that sent something else (reported)."""
        problem = _check(fd, claimed)
        if problem is not None or fd is None:
            if fd is not None:
                os.close(fd)
            self.kernel.report(Diagnostic(
                "dext-bad-memory", f"driver process {server} answered client_memory_for_type "
                f"with {problem}; the caller gets kIOReturnBadArgument", subject=server,
                severity=Severity.WARNING,
                hint="return an IOBufferMemoryDescriptor made in the driver process"))
            return IOReturn.BAD_ARGUMENT
        memory = DextMemory(fd, int(claimed), _path_in(fd, directory))
        grants = self._grants.setdefault(id(client), [])
        grants.append(memory)
        self._servers[id(client)] = server
        while len(grants) > MAX_GRANTS_PER_CLIENT:
            grants.pop(0).release()
        return memory

    def release_client(self, client: object) -> None:
        for memory in self._grants.pop(id(client), ()):
            memory.release()
        self._servers.pop(id(client), None)

    def release_server(self, server: str) -> int:
        """Driver process ``server`` died: release everything its clients handed out."""
        clients = [key for key, name in self._servers.items() if name == server]
        released = 0
        for key in clients:
            for memory in self._grants.pop(key, ()):
                memory.release()
                released += 1
            del self._servers[key]
        return released


def _check(fd: int | None, claimed: Any) -> str | None:
    # Imported here: a boot that maps no dext memory does not load user clients' grants.
    from iokit_host.userclient.memory_grant import buffer_problem

    return "no memory descriptor" if fd is None else buffer_problem(fd, claimed)


def _path_in(fd: int, directory: str | None) -> str | None:
    """The file ``fd`` is, when it is the same file by that name in ``directory``."""
    if directory is None:
        return None
    try:
        path = os.readlink(f"/proc/self/fd/{fd}")
        same = os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
    except OSError:
        return None
    inside = os.path.dirname(path) == os.path.realpath(directory)
    return path if same and inside else None
