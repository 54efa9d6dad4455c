"""A driver process's descendants: what a dext forked, even the helpers that left its process
group (``setsid``, a daemon's double fork), go when the driver process goes.

IOKit's DriverKit runs a dext in a sandbox whose every process launchd ends with it. Here a
driver process leads a process group of its own, but a helper that calls ``setsid`` leaves
it, and an orphan is re-parented to init. So the driver process makes itself a *child
subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``) before it imports the driver: every orphan
below it is re-parented to it, not to init, and stays in its tree; the kernel walks that tree
(``/proc/<pid>/task/*/children``) and stops it before it kills the driver process, and a
driver process whose kernel is gone does the same to its own tree before it exits. Where
there is no ``/proc`` or ``prctl`` (not Linux) only the process group is killed.
"""

from __future__ import annotations

import ctypes
import os
import signal

__all__ = ["become_subreaper", "children", "descendants", "kill_descendants"]

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make this process the subreaper of its descendants; False where it cannot."""
    try:
        answer: int = ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        return answer == 0
    except (OSError, AttributeError):
        return False


def children(pid: int) -> list[int]:
    """The processes ``pid`` forked, all its threads' (Linux ``/proc``); none elsewhere."""
    found: list[int] = []
    # os.path, not pathlib: a driver process imports this module, and pathlib is a large
    # share of what it would otherwise import before checking in.
    folder = f"/proc/{pid}/task"
    try:
        tasks = os.listdir(folder)
    except OSError:  # gone, or no /proc
        return found
    for task in tasks:
        try:
            with open(os.path.join(folder, task, "children"), encoding="ascii") as file:
                found += [int(child) for child in file.read().split()]
        except (OSError, ValueError):  # a thread that ended since the listing
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, parents before their children (an explicit stack: a
    fork chain may be deep)."""
    found: list[int] = []
    seen = {pid}
    stack = [pid]
    while stack:
        for child in children(stack.pop()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                stack.append(child)
    return found


def kill_descendants(pid: int) -> int:
    """Stop, then SIGKILL, every process below ``pid`` (not ``pid`` itself, whose caller
    ends it); how many were found. Stopped first, so none forks a new one in between, and
    walked twice for those forked while the first walk ran."""
    stopped: list[int] = []
    for _ in range(2):
        for child in descendants(pid):
            if child not in stopped:
                _signal(child, signal.SIGSTOP)
                stopped.append(child)
    for child in stopped:
        _signal(child, signal.SIGKILL)
    return len(stopped)


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except (ProcessLookupError, PermissionError):  # gone since the walk (or not ours)
        pass
