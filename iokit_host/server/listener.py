"""The kernel's listening socket: a per-user ``AF_UNIX`` socket, mode 0600 (0660 with a group).

Mach gives each task the kernel's ports; a Unix-domain socket is reachable by anyone who may
open its path, so the path decides who may even try: the default lives in
``$XDG_RUNTIME_DIR/iokit/`` or in a 0700 directory of the user's own under the temp dir, and the
socket is created 0600 (umask set before ``bind``, so there is no moment when it is wider).
``--group`` makes it 0660 and hands it to that group. The kernel checks every peer again
with ``SO_PEERCRED`` (:mod:`.session`), so a permissive path does not widen access.

A socket file left by a kernel that died is replaced; one a live kernel still listens on is
refused, naming the path.
"""

from __future__ import annotations

import contextlib
import grp
import os
import socket
import stat
from pathlib import Path

from iokit_sdk.iokitlib.wire import user_socket_path

from iokit_host.errors import IOKitError

__all__ = ["ListenError", "Listener", "resolve_group"]

_BACKLOG = 128


class ListenError(IOKitError):
    reference = "kernel-socket-unusable"


def resolve_group(group: str) -> int:
    """A group name or number as a gid.

    :raises ListenError: no such group.
    """
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ListenError(f"no group named {group!r}", key="--group",
                          hint="give a group name or number from /etc/group") from None


class Listener:
    """The bound, listening socket at ``path``; :meth:`close` removes the file.

    :param gid: share the socket with this group (mode 0660) instead of 0600.
    :raises ListenError: the path is taken (a live kernel, or not a socket) or unusable.
    """

    def __init__(self, path: str, gid: int | None = None) -> None:
        self.path = path
        self.gid = gid
        _prepare_directory(path)
        _clear_stale(path)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._bind()
        except BaseException:
            self.socket.close()
            raise
        self.socket.listen(_BACKLOG)
        self.socket.setblocking(False)
        self._identity = os.stat(path)

    def _bind(self) -> None:
        previous = os.umask(0o177)
        try:
            self.socket.bind(self.path)
        except OSError as error:
            raise ListenError(f"cannot create the kernel socket: {error.strerror or error}",
                              file=self.path,
                              hint="pass --socket with a path in a directory you own") from error
        finally:
            os.umask(previous)
        if self.gid is not None:
            os.chown(self.path, -1, self.gid)
            os.chmod(self.path, 0o660)

    def fileno(self) -> int:
        return self.socket.fileno()

    def close(self) -> None:
        """Stop listening and remove the socket file (only if it is still ours)."""
        self.socket.close()
        with contextlib.suppress(OSError):
            now = os.stat(self.path)
            if (now.st_dev, now.st_ino) == (self._identity.st_dev, self._identity.st_ino):
                os.unlink(self.path)


def _prepare_directory(path: str) -> None:
    """Make the socket's directory; the per-user default one 0700 and ours alone."""
    directory = Path(path).parent
    private = str(directory) == os.path.dirname(user_socket_path())
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError as error:
        raise ListenError(f"cannot make the socket's directory: {error.strerror or error}",
                          file=str(directory), hint="pass --socket with another path") from error
    if private and (info.st_uid != os.getuid() or info.st_mode & 0o077):
        raise ListenError("the per-user socket directory is not private (owned by you, mode "
                          "0700)", file=str(directory),
                          hint=f"chmod 700 {directory}, or pass --socket")


def _clear_stale(path: str) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ListenError("the socket path exists and is not a socket", file=path,
                          hint="remove it, or pass --socket with another path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # left by a kernel that is gone
        return
    finally:
        probe.close()
    raise ListenError("another iokit kernel is listening on this socket", file=path,
                      hint="stop it first (SIGTERM), or pass --socket with another path")
