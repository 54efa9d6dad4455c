"""Who is on the other end of a connection: ``SO_PEERCRED`` and ``/proc`` (the task's audit token).

The real kernel knows the task behind every Mach message. Here the socket tells the kernel the
peer's pid, uid and gid (``SO_PEERCRED``, set by the kernel at ``connect``, so the client cannot
forge it), and ``/proc/PID`` adds its supplementary groups, its executable and its command name
(``p_comm``, which ``IOUserClientCreator`` shows). What ``/proc`` cannot tell (the process has
already exited) is left empty, which grants nothing.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

from iokit_sdk.userclient import OwningTask

from iokit_host.userclient.entitlements import EntitlementPolicy

__all__ = ["Peer", "peer_of"]

_UCRED = struct.Struct("3i")


@dataclass(frozen=True, slots=True)
class Peer:
    """The process that connected."""

    pid: int
    uid: int
    gid: int
    name: str
    groups: tuple[int, ...] = ()
    executable: str | None = None

    def all_groups(self) -> frozenset[int]:
        return frozenset((self.gid, *self.groups))

    def task(self, policy: EntitlementPolicy) -> OwningTask:
        """The :class:`OwningTask` user clients see, with the entitlements ``policy`` grants."""
        granted = policy.entitlements_for(self.uid, self.all_groups(), self.executable)
        return OwningTask(self.pid, self.uid, self.gid, self.name, self.groups,
                          self.executable, granted)


def peer_of(sock: socket.socket) -> Peer:
    """The credentials of ``sock``'s peer (``SO_PEERCRED``) and what ``/proc`` says of it."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return Peer(pid, uid, gid, _command(pid), _groups(pid), _executable(pid))


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip() or f"pid{pid}"
    except OSError:
        return f"pid{pid}"


def _executable(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def _groups(pid: int) -> tuple[int, ...]:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as status:
            for line in status:
                if line.startswith("Groups:"):
                    return tuple(int(g) for g in line.split()[1:] if g.isdigit())
    except OSError:
        pass
    return ()
