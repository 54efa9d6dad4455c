"""File stamps: how the kernel collection tells that an input file changed (kextcache's mtimes).

kextcache and kmutil rebuild a kernel collection when a kext's modification time is newer
than the collection's. A modification time alone misses an in-place edit whose mtime was put
back (``touch -r``, ``cp -p``, a tool that restores times) and one made within the same
filesystem clock tick as the scan. A stamp here therefore holds ``st_mtime_ns``,
``st_size`` and ``st_ctime_ns``: the inode change time, which no user call can set and which
every write and every ``utime`` moves. That leaves the racy case git describes
(Documentation/technical/racy-git.txt): a file changed less than one timestamp tick before
the scan can change again within that tick and keep all three values. Such a file is
*racy*, and its stamp also carries a digest of its content, checked on every read.

Cost: a stamp is one ``stat`` (the warm path never reads a file) unless the file is racy;
racy files are those touched within :data:`RACY_NS` of the scan (2 s for a filesystem with
whole-second times, such as FAT or HFS+), so only kexts installed moments before a boot pay.
Not covered: a network filesystem whose clock runs behind this machine's by more than that.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RACY_NS", "FileStamp", "content_digest", "read_stamped", "scan_clock", "search_path",
           "stamp_of",
           "take"]

#: A file touched this close to the scan (sub-second filesystems) gets a content digest.
RACY_NS = 100_000_000
#: The same, for filesystems that keep whole seconds (FAT keeps 2 s).
RACY_COARSE_NS = 2_000_000_000
_SECOND = 1_000_000_000


@dataclass(frozen=True, slots=True)
class FileStamp:
    """One input file as the scan saw it; ``digest`` is set only for a racy file."""

    file: str
    mtime_ns: int
    size: int
    ctime_ns: int
    digest: str | None = None

    @classmethod
    def absent(cls, file: str) -> FileStamp:
        """A file (or path entry) that did not exist: current while it still does not."""
        return cls(file, -1, -1, -1)

    def is_current(self) -> bool:
        """True while the file still has this stamp (and, if racy, this content)."""
        try:
            status = os.stat(self.file)
        except ValueError:  # a NUL in a cached name: no file the scan can have stamped
            return False
        except OSError:
            return self.size == -1
        if (status.st_mtime_ns != self.mtime_ns or status.st_size != self.size
                or status.st_ctime_ns != self.ctime_ns):
            return False
        return self.digest is None or _digest_of(self.file, status) == self.digest


def scan_clock() -> int:
    """Read once when a scan starts: files touched after it, less the window, are racy."""
    return time.time_ns()


def take(file: str, scan_start_ns: int) -> FileStamp | None:
    """Stamp ``file`` before the caller reads it (None when it cannot be stat'ed).

    A racy file's content is digested here, before the caller parses it: a write in between
    can only make the stamp stale, never hide behind it.
    """
    try:
        status = os.stat(file)
    except (OSError, ValueError):  # ValueError: a NUL in the name, which no file has
        return None
    return stamp_of(file, status, scan_start_ns)


def stamp_of(file: str, status: os.stat_result, scan_start_ns: int) -> FileStamp:
    """:func:`take` from a status the caller has just taken (``os.stat(file)``)."""
    digest = _digest_of(file, status) if _is_racy(status, scan_start_ns) else None
    return FileStamp(file, status.st_mtime_ns, status.st_size, status.st_ctime_ns, digest)


#: The most :func:`read_stamped` reads: an ``entry_points.txt`` is a few kilobytes.
MAX_READ_BYTES = 16 << 20


def read_stamped(file: str, scan_start_ns: int) -> tuple[FileStamp, bytes]:
    """Stat, then read ``file``: its stamp and the very bytes the digest (if any) is of.

    :raises OSError: when it cannot be read, is not a regular file or holds more than
        :data:`MAX_READ_BYTES`.
    """
    # O_NONBLOCK: opening a FIFO does not wait for a writer; it is then refused, as a device
    # is, for what it is (reading /dev/zero never ends); a file past MAX_READ_BYTES too.
    descriptor = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(descriptor, "rb") as stream:
        status = os.fstat(stream.fileno())  # the stamp is taken before the bytes are read
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", file)
        data = stream.read(MAX_READ_BYTES + 1)
    if len(data) > MAX_READ_BYTES:
        raise OSError(errno.EFBIG, f"larger than {MAX_READ_BYTES} bytes", file)
    digest = content_digest(data) if _is_racy(status, scan_start_ns) else None
    return FileStamp(file, status.st_mtime_ns, status.st_size, status.st_ctime_ns, digest), data


def _is_racy(status: os.stat_result, scan_start_ns: int) -> bool:
    mtime_ns, ctime_ns = status.st_mtime_ns, status.st_ctime_ns
    whole_seconds = mtime_ns % _SECOND == 0 and ctime_ns % _SECOND == 0
    window = RACY_COARSE_NS if whole_seconds else RACY_NS
    return max(mtime_ns, ctime_ns) >= scan_start_ns - window


def content_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _digest_of(file: str, status: os.stat_result) -> str:
    """The content's digest; a directory's is of its sorted entry names (what installs change).
    A FIFO or a device has none: opening one waits for a writer, reading one never ends."""
    try:
        if stat.S_ISDIR(status.st_mode):
            return content_digest("\0".join(sorted(os.listdir(file))).encode(
                "utf-8", "surrogateescape"))
        if not stat.S_ISREG(status.st_mode):
            return ""
        with open(file, "rb") as stream:
            return content_digest(stream.read())
    except OSError:
        return ""  # unreadable at the scan and still unreadable: unchanged as far as we know


def search_path(path: Sequence[str] | None = None) -> list[str]:
    """``path`` (``sys.path`` when None) for ``importlib.metadata`` to search: without the
    entries that are there but neither a folder nor a file (a FIFO, a device, a socket).
    It opens an entry that is no folder as a zip archive: a FIFO in ``PYTHONPATH`` made every
    scan wait for a writer forever, ``/dev/zero`` filled memory. Missing entries stay (it
    passes over them, and installing one changes the scan's stamps)."""
    kept: list[str] = []
    for entry in sys.path if path is None else path:
        try:
            mode = os.stat(entry or ".").st_mode
        except (OSError, ValueError):  # not there, or not a path at all
            kept.append(entry)
            continue
        if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
            kept.append(entry)
    return kept
