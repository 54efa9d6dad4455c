"""The host's working directory, kept from the drivers that share its process.

No IOKit counterpart: a kext has no working directory (it reads its resources from its own
bundle). Here a driver's code runs in the host's process, and ``os.chdir`` (to read firmware
beside the driver's module, say) moves the host with it: every relative path the host opens
afterwards, a running kernel's ``--socket`` included, resolved against the driver's directory.
The kernel republished its socket there, so clients never found it, and left the file behind
at shutdown. :class:`WorkdirGuard` notes the directory when the kernel's checks begin and, after
each work-loop job (:mod:`.job_checks`), changes back to it when a driver moved away.
"""

from __future__ import annotations

import os
from typing import NamedTuple

__all__ = ["WORKDIR_HINT", "Moved", "WorkdirGuard"]

WORKDIR_HINT = ("a kext shares the kernel's process and its working directory: open files by "
                "absolute path (beside the module: pathlib.Path(__file__).parent) rather than "
                "calling os.chdir")


class Moved(NamedTuple):
    """What a driver did to the working directory, and what the host did about it."""

    what: str
    done: str


class WorkdirGuard:
    """The working directory when it was made: its path, read again after each job
    (``getcwd``, a third of an ``os.stat(".")``, which is looked at only when the path
    differs), and its identity (device and inode), which tells a driver's move from the
    directory's own rename."""

    def __init__(self) -> None:
        try:
            self._path: str | None = os.getcwd()
            self._identity = _identity(".")
        except OSError:  # the directory was removed before the host began: nothing to keep
            self._path, self._identity = None, (0, 0)

    def check(self) -> Moved | None:
        """A driver's move of the working directory since, put back; None when it stayed."""
        kept = self._path
        if kept is None:
            return None
        try:
            moved = os.getcwd()
            if moved == kept or _identity(".") == self._identity:  # there, or renamed
                return None
        except OSError:  # the driver's directory was removed under it
            moved = "a directory since removed"
        what = f"changed the working directory from {kept} to {moved}"
        try:
            os.chdir(kept)
        except OSError as error:  # the host's own was removed meanwhile: stay, say it once
            self._path = None
            return Moved(what, f"not put back ({error.strerror or error})")
        return Moved(what, "put back")


def _identity(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino
