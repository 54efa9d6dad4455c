"""Reading a file the user named, so that no kind of path makes a command wait forever.

No IOKit counterpart: this is the host's plumbing for the files its commands read (scenarios,
kext manifests, ioreg dumps). ``open()`` on a named FIFO waits until something opens it for
writing, which may never happen (``mkfifo f; iokit boot --events f``), and a file can be far
larger than anything the command means to read. :func:`read_input_file` opens without waiting
(``O_NONBLOCK``), then reads as usual: a pipe with a writer (``--events <(generate)``) is read
to its end, a FIFO nobody writes to reads as empty at once. A folder raises
``IsADirectoryError``, a file larger than ``limit`` bytes ``OSError(EFBIG)`` (or, with
:func:`read_input_head`, is read only that far); both, like every other failure, are
``OSError`` naming the path, which each reader turns into its own diagnostic. Devices are refused earlier, where the command line is parsed
(:mod:`iokit_host.cli.input_path`).
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["read_input_file", "read_input_head"]

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
_CHUNK = 1 << 16


def read_input_file(path: str | os.PathLike[str], *, limit: int) -> bytes:
    """The bytes of the file at ``path``, at most ``limit`` of them.

    :raises OSError: with ``filename`` set: it cannot be opened or read, it is a folder, or
        it holds more than ``limit`` bytes.
    """
    data = read_input_head(path, limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes, more than this file ever holds",
                      os.fspath(path))
    return data


def read_input_head(path: str | os.PathLike[str], size: int) -> bytes:
    """The first ``size`` bytes of the file at ``path`` (all of it when it is shorter).

    :raises OSError: with ``filename`` set: it cannot be opened or read, or it is a folder.
    """
    name = os.fspath(path)
    descriptor = os.open(name, _FLAGS)
    try:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
        if not stat.S_ISREG(status.st_mode):
            os.set_blocking(descriptor, True)  # a writer's pipe is read to its end
        chunks: list[bytes] = []
        # A regular file is read in one call of its size (and one more to see its end): a
        # cold boot reads hundreds of small manifests, and each read allocates what it asks.
        want = status.st_size + 1 if status.st_size else _CHUNK
        while size > 0:
            try:
                chunk = os.read(descriptor, min(size, want))
            except OSError as error:
                error.filename = name
                raise
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
            want = _CHUNK
        return b"".join(chunks)
    finally:
        os.close(descriptor)
