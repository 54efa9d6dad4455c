"""Where a running kernel's shared memory lives, and how a program gets at it.

``IOConnectMapMemory`` maps a driver's :class:`~iokit_sdk.memory.IOBufferMemoryDescriptor`
into the program (IOKit maps the descriptor's pages into the task). A running kernel backs
every such buffer with a file in a directory made for it at start (``$XDG_RUNTIME_DIR``, or the
temp dir when that cannot hold it; mode 0700, each file 0600: nobody but the kernel's user may
open one by name) and removes the directory when it stops. A program never opens it by name: the kernel passes it a
descriptor of the buffer with the ``map_memory`` reply (``SCM_RIGHTS``, as a Mach reply
carries a memory entry's port right), so any peer the socket admits, a ``--group`` member of
another uid included, maps exactly the memory it was given and nothing else.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from iokit_sdk.memory import IOBufferMemoryDescriptor

__all__ = ["memory_fd", "shared_memory_directory"]

_PREFIX = "iokit-mem-"


@contextmanager
def shared_memory_directory() -> Iterator[str]:
    """Back the kernel's shared buffers with files in a fresh private directory."""
    directory = _made_directory()
    IOBufferMemoryDescriptor.backing_directory = directory
    try:
        yield directory
    finally:
        IOBufferMemoryDescriptor.backing_directory = None
        shutil.rmtree(directory, ignore_errors=True)


def _made_directory() -> str:
    """A fresh directory in ``$XDG_RUNTIME_DIR``, or the temp dir when that cannot be used:
    the variable is a preference another session may leave behind (``su``, ``sudo -E``: a
    folder of another user's, or one gone read-only), and a kernel that refused to start for
    it named a path the user never gave (file-error: /run/user/1000/iokit-mem-...).

    :raises OSError: neither can hold one (the temp dir's error)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    parents = [runtime] if runtime and os.path.isdir(runtime) else []
    parents.append(tempfile.gettempdir())
    for number, parent in enumerate(parents, 1):
        _remove_stale(parent)
        try:
            return tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=parent)
        except OSError:
            if number == len(parents):
                raise
    raise AssertionError("unreachable: the temp dir is always tried")  # pragma: no cover


def memory_fd(memory: IOBufferMemoryDescriptor) -> int | None:
    """A new descriptor of ``memory``'s pages, for the caller to pass on and close; None when
    there is none to be had (out of descriptors, or the file went)."""
    fileno = getattr(memory, "fileno", None)  # a driver process's buffer: its descriptor
    try:
        if callable(fileno):
            return os.dup(int(fileno()))
        if memory.path is None:
            return None
        return os.open(memory.path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (OSError, TypeError, ValueError):
        return None


def _remove_stale(parent: str) -> None:
    """Remove the directories of this user's kernels that were killed (SIGKILL skips the
    cleanup): their pid no longer runs."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for entry in entries:
        pid_text = entry.name[len(_PREFIX):].split("-", 1)[0]
        if not entry.name.startswith(_PREFIX) or not pid_text.isdigit():
            continue
        try:
            if entry.stat(follow_symlinks=False).st_uid != os.getuid() or \
                    not entry.is_dir(follow_symlinks=False) or _running(int(pid_text)):
                continue
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: running
        return True
    return True
