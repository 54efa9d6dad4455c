"""Processes a driver started that outlive the command and hold its output open.

IOKit has no counterpart: a kext cannot spawn processes, and a dext's children are killed with
it (:mod:`iokit_host.dext.descendants`). Here a kext's ``start`` may run
``subprocess.Popen(["sleep", "30"])``: the child inherits the command's standard output and
error, and a reader of a pipe (``iokit boot | cat``, a CI log) sees its end only when the last
writer closes it. The command had ended, yet the pipeline waited for the child, unexplained.

What a serious tool can do about it is to say so. Making the host's descriptors 1 and 2
non-inheritable is no answer: a child whose output is closed at ``exec`` writes nowhere, or
into the next file it opens, which takes that number. Ending the processes is not the
command's to do either: they are the driver's, perhaps meant to outlive it. So when the
command ends, :func:`held_output` finds its descendants still running that hold the pipe or
socket its stdout or stderr is (a terminal or a file keeps nobody waiting), and the command
names each in a warning (``driver-process-holds-output``) with what to do. It reads
``/proc``: a few system calls per child, once per command; elsewhere it finds none.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from iokit_host.errors import Diagnostic, Severity

__all__ = ["held_output"]

#: How many descendants are looked at, at most (a driver that forked without end).
_MAX_PROCESSES = 64


def held_output() -> list[Diagnostic]:
    """A warning for each descendant of this process still running that holds its stdout
    or stderr, when that is a pipe or a socket."""
    held = _held_streams()
    if not held:
        return []
    found: list[Diagnostic] = []
    for pid in _descendants(os.getpid()):
        files = _open_files(pid)  # once a process: a stat of each of its descriptors
        streams = [name for name, ident in held.items() if ident in files]
        if streams:
            found.append(_warning(pid, streams))
    return found


def _held_streams() -> dict[str, tuple[int, int]]:
    """This process's stdout and stderr that are a pipe or a socket, by (device, inode)."""
    streams: dict[str, tuple[int, int]] = {}
    for fd, name in ((1, "stdout"), (2, "stderr")):
        try:
            status = os.fstat(fd)
        except OSError:
            continue
        if stat.S_ISFIFO(status.st_mode) or stat.S_ISSOCK(status.st_mode):
            streams[name] = (status.st_dev, status.st_ino)
    return streams


def _descendants(pid: int) -> list[int]:
    """The running descendants of ``pid`` still in its tree (``/proc``'s children lists)."""
    found: list[int] = []
    parents = [pid]
    while parents and len(found) < _MAX_PROCESSES:
        parent = parents.pop()
        for child in _children(parent):
            if child not in found and _running(child):
                found.append(child)
                parents.append(child)
    return found[:_MAX_PROCESSES]


def _children(pid: int) -> list[int]:
    children: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # no /proc, or the process is gone
        return children
    for task in tasks:
        try:
            children += [int(child) for child in
                         (task / "children").read_text(encoding="ascii").split()]
        except (OSError, ValueError):  # a thread that ended since the listing
            continue
    return children


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1]
    except (OSError, IndexError, UnicodeDecodeError):
        return False
    return state.split()[0] != "Z"


def _open_files(pid: int) -> set[tuple[int, int]]:
    """What ``pid``'s descriptors are, by (device, inode)."""
    folder = f"/proc/{pid}/fd"
    found: set[tuple[int, int]] = set()
    try:
        names = os.listdir(folder)
    except OSError:  # gone, or not ours to read
        return found
    for name in names:
        try:
            status = os.stat(f"{folder}/{name}")
        except OSError:
            continue
        found.add((status.st_dev, status.st_ino))
    return found


def _command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    text = " ".join(os.fsdecode(part) for part in raw.split(b"\0") if part)
    return text[:80] + "..." if len(text) > 80 else text or "?"


def _warning(pid: int, streams: list[str]) -> Diagnostic:
    held = " and ".join(streams)
    return Diagnostic(
        "driver-process-holds-output",
        f"process {pid} ({_command_line(pid)}), started while the command ran, is still "
        f"running and holds its {held}: a reader of the output (iokit boot | cat) waits until "
        "it ends", subject=str(pid), severity=Severity.WARNING,
        hint=f"a driver that starts a process must end it in stop, or start it with "
             f"stdout=subprocess.DEVNULL and stderr=subprocess.DEVNULL; kill {pid} to end "
             "the wait now")
