"""Reading a file the user named, so that no kind of path makes a command wait forever.

No IOKit counterpart: this is the host's plumbing for the files its commands read (scenarios,
kext manifests, ioreg dumps). ``open()`` on a named FIFO waits until something opens it for
writing, which may never happen (``mkfifo f; iokit boot --events f``), and a file can be far
larger than anything the command means to read. :func:`read_input_file` opens without waiting
(``O_NONBLOCK``), then reads as usual: a pipe with a writer (``--events <(generate)``) is read
to its end; a FIFO nobody writes to is refused at once (``ENODATA``), not read as an empty
file. A folder raises
``IsADirectoryError``, a file larger than ``limit`` bytes ``OSError(EFBIG)`` (or, with
:func:`read_input_head`, is read only that far); both, like every other failure, are
``OSError`` naming the path, which each reader turns into its own diagnostic. Devices are refused earlier, where the command line is parsed
(:mod:`iokit_host.cli.input_path`).

The host's own caches are read by :func:`read_cache_file`, which refuses what the host cannot
have written, and written by :func:`write_cache_file`, which readers never see half done.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["MAX_CACHE_FILES", "decode_text", "prune_cache_files", "read_cache_file",
           "read_input_file", "read_input_head", "undecodable_place", "write_cache_file"]

#: Cache files of one kind kept in a folder (one per interpreter and ``sys.path``, or per
#: model); past it the least recently written go. Every new ``sys.path`` (a virtual
#: environment, ``python -m`` from another folder, each test's) otherwise left files forever.
MAX_CACHE_FILES = 32

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
    if not name:  # os.open says only "No such file or directory", naming nothing
        raise FileNotFoundError(errno.ENOENT, "an empty path names no file", name)
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
        if not chunks and stat.S_ISFIFO(status.st_mode):
            # A FIFO nobody writes to (or a writer that wrote nothing): not an empty file,
            # which a reader might take for "no events" or "no entitlements".
            raise OSError(errno.ENODATA, "a pipe that gave nothing to read (nobody writes "
                          "to it); give a file", name)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def decode_text(data: bytes) -> str:
    """The text of a file the user wrote (a TOML model, scenario or policy): UTF-8, a BOM
    dropped (Windows editors start UTF-8 with one, which TOML refuses), or UTF-16 when its BOM
    says so (what Notepad's "Unicode" saves).

    :raises UnicodeDecodeError: when the bytes are neither; :func:`undecodable_place` says where.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def undecodable_place(data: bytes, error: UnicodeDecodeError) -> str:
    """Where and why ``data`` is not text, for a diagnostic: ``byte 0xc3 at line 12, column 5
    is not UTF-8``."""
    start = min(error.start, max(len(data) - 1, 0))
    line = data.count(b"\n", 0, start) + 1
    column = start - (data.rfind(b"\n", 0, start) + 1) + 1
    byte = f"byte 0x{data[start]:02x}" if data else "the text"
    encoding = "UTF-16" if error.encoding.startswith("utf-16") else "UTF-8"
    return f"{byte} at line {line}, column {column} is not {encoding} ({error.reason})"


_CACHE_FLAGS = _FLAGS | getattr(os, "O_NOFOLLOW", 0)


def read_cache_file(path: str | os.PathLike[str], *, limit: int) -> bytes:
    """The bytes of a cache file the host wrote itself (the kernel collection, the install
    index, a parsed model), or ``OSError`` when the file is not one it can have written.

    The host writes its caches as regular files renamed into place, by the user running it
    (or by root, for a shared prefix). Anything else at that name was put there otherwise and
    is not read: a FIFO (``open()`` or ``read()`` would wait forever), a device (``/dev/zero``
    never ends), a symlink (``O_NOFOLLOW``: it points wherever its maker chose), a folder, a
    file of another user (in a shared cache folder, a forged cache would change what a boot
    loads), or one larger than ``limit`` (a sparse file of gigabytes).

    :raises OSError: with ``filename`` set; ``FileNotFoundError`` when there is none.
    """
    name = os.fspath(path)
    try:
        descriptor = os.open(name, _CACHE_FLAGS)
    except OSError as error:
        if error.errno == errno.ELOOP and os.path.islink(name):
            raise OSError(errno.ELOOP, "a symbolic link, so not a cache the host wrote",
                          name) from None
        raise
    try:
        status = os.fstat(descriptor)
        refusal = _cache_refusal(status, limit)
        if refusal:
            raise OSError(errno.EPERM, refusal, name)
        os.set_blocking(descriptor, True)
        chunks: list[bytes] = []
        remaining = status.st_size + 1  # one more, to see a file that grew past its stat
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes", name)
        return data
    finally:
        os.close(descriptor)


def _cache_refusal(status: os.stat_result, limit: int) -> str | None:
    if not stat.S_ISREG(status.st_mode):
        return "not a regular file, so not a cache the host wrote"
    owner = getattr(os, "geteuid", lambda: 0)()
    if status.st_uid not in (owner, 0):
        return f"written by another user (uid {status.st_uid}), so not trusted"
    if status.st_size > limit:
        return f"larger than {limit} bytes, more than a cache ever holds"
    return None


def write_cache_file(path: str | os.PathLike[str], data: bytes, *, prefix: str) -> None:
    """Write a cache file atomically: to a temporary file (named ``prefix`` and more) in the
    same folder, made first if need be, then renamed over ``path``, so that a reader sees the
    old file or the new one, never half of it.

    :raises OSError: the folder or the file cannot be written (nothing is left behind).
    """
    import tempfile  # here: a driver process reads caches, and tempfile is a share of its start

    folder = os.path.dirname(os.fspath(path)) or "."
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=prefix, dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)  # public metadata: every user of the prefix may read it
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def prune_cache_files(folder: str | os.PathLike[str], prefix: str, suffix: str = ".json",
                      *, keep: int = MAX_CACHE_FILES) -> None:
    """Remove the least recently written files named ``prefix*suffix`` in ``folder`` past
    ``keep``. Called after a write (a stale cache, off the common path); never raises."""
    try:
        with os.scandir(folder) as entries:
            found = [(entry.stat(follow_symlinks=False).st_mtime_ns, entry.path)
                     for entry in entries
                     if entry.name.startswith(prefix) and entry.name.endswith(suffix)]
    except OSError:
        return
    if len(found) <= keep:
        return
    found.sort()
    for _, path in found[:-keep] if keep else found:
        try:
            os.unlink(path)
        except OSError:
            pass
