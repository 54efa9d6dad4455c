"""The kernel's listening socket: a per-user ``AF_UNIX`` socket, mode 0600 (0660 with a group).

Mach gives each task the kernel's ports; a Unix-domain socket is reachable by anyone who may
open its path, so the path decides who may even try: the default lives in
``$XDG_RUNTIME_DIR/iokit/`` or in a 0700 directory of the user's own under the temp dir, and the
socket is created 0600 (umask set before ``bind``, so there is no moment when it is wider).
``--group`` makes it 0660 and hands it to that group. The kernel checks every peer again
with ``SO_PEERCRED`` (:mod:`.session`), so a permissive path does not widen access.

A kernel's socket file removed while it runs (a temp-directory cleaner, a user's ``rm``)
is noticed by the front end and published again (:meth:`Listener.republish`): IOKit's main
port cannot vanish from under a running kernel, so neither does this path. A socket file
left by a kernel that died is replaced; one a live kernel still listens on is
refused, naming the path, even when that kernel is too busy to accept (its backlog full: the
probe never waits). The socket is bound and listening under a private name first, then
published at the path with ``link``, which fails if the path exists: two kernels started at
once never both claim it, and no client ever finds the path bound but not yet listening (a
moment when the other kernel's probe would have taken it for stale).
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import secrets
import socket
import stat
from pathlib import Path

from iokit_sdk.iokitlib.wire import user_socket_path

from iokit_host.errors import IOKitError
from iokit_host.path_reason import folder_problem, os_reason, path_problem

__all__ = ["ListenError", "Listener", "resolve_group"]

_BACKLOG = 128
#: ``sun_path``'s size on Linux, the terminating NUL included.
_SUN_PATH = 108


class ListenError(IOKitError):
    reference = "kernel-socket-unusable"


#: chown's "no change" gid, (gid_t)-1; every real gid is below it.
_NO_GID = (1 << 32) - 1


def resolve_group(group: str) -> int:
    """A group name or number as a gid.

    :raises ListenError: no such group.
    """
    if group.isascii() and group.isdigit():
        # (gid_t)-1 is chown's "leave the group": the socket would be 0660 to the owner's own
        # group; past it OverflowError was an internal error.
        if int(group) >= _NO_GID:
            raise ListenError(f"group number {group[:40]} is past the largest gid "
                              f"({_NO_GID - 1})", key="--group",
                              hint="give a group name or number from /etc/group")
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
        self.path = _resolved(path)
        self.gid = gid
        _prepare_directory(path)
        _clear_stale(path)
        self.socket = self._listen()
        self._identity = os.stat(path)

    def _listen(self) -> socket.socket:
        """A new socket listening at :attr:`path` (bound under a private name, then linked)."""
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        private = _private_name(self.path)
        try:
            self._bind(listening, private or self.path)
            listening.listen(_BACKLOG)
            if private is not None:
                _publish(private, self.path)
        except BaseException:
            listening.close()
            if private is not None:
                with contextlib.suppress(OSError):
                    os.unlink(private)
            raise
        listening.setblocking(False)
        return listening

    def _bind(self, listening: socket.socket, name: str) -> None:
        previous = os.umask(0o177)
        try:
            listening.bind(name)
        except OSError as error:
            raise ListenError(f"cannot create the kernel socket: {error.strerror or error}",
                              file=self.path,
                              hint="pass --socket with a path in a directory you own") from error
        finally:
            os.umask(previous)
        if self.gid is not None:
            os.chown(name, -1, self.gid)
            os.chmod(name, 0o660)

    def state(self) -> str:
        """``ours`` while the path is this kernel's socket; ``gone`` when nothing is there
        (removed: a temp-directory cleaner, a user's ``rm``); ``taken`` when something else
        is (another kernel's socket, a file)."""
        try:
            now = os.lstat(self.path)
        except FileNotFoundError:
            return "gone"
        except OSError:
            return "taken"
        same = (now.st_dev, now.st_ino) == (self._identity.st_dev, self._identity.st_ino)
        return "ours" if same else "taken"

    def republish(self) -> socket.socket:
        """Listen at :attr:`path` again on a new socket, now the listening one; the one
        before (no longer reachable by its path) is returned, for its waiting clients to
        be accepted before it is closed.

        :raises ListenError: the path cannot be bound (taken meanwhile, or its directory).
        """
        _prepare_directory(self.path)
        _clear_stale(self.path)
        listening = self._listen()
        previous, self.socket = self.socket, listening
        self._identity = os.stat(self.path)
        return previous

    def fileno(self) -> int:
        return self.socket.fileno()

    def close(self) -> None:
        """Stop listening and remove the socket file (only if it is still ours)."""
        self.socket.close()
        with contextlib.suppress(OSError):
            now = os.stat(self.path)
            if (now.st_dev, now.st_ino) == (self._identity.st_dev, self._identity.st_ino):
                os.unlink(self.path)


def _resolved(path: str) -> str:
    """``path`` made absolute, when that still fits in ``sun_path``: a kext's ``os.chdir``
    while the kernel runs (put back after the request, :mod:`iokit_host.kernel.workdir_guard`)
    moved the socket the front end checks, republishes and removes at shutdown."""
    absolute = os.path.abspath(path)
    return absolute if len(os.fsencode(absolute)) < _SUN_PATH else path


def _prepare_directory(path: str) -> None:
    """Make the socket's directory; the per-user default one 0700 and ours alone."""
    directory = Path(path).parent
    private = str(directory) == os.path.dirname(user_socket_path())
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError as error:
        reason = _why_not_folder(directory, error)
        raise ListenError(f"cannot make the socket's directory: {reason}",
                          file=str(directory), hint="pass --socket with another path") from error
    if private and (info.st_uid != os.getuid() or info.st_mode & 0o077):
        raise ListenError("the per-user socket directory is not private (owned by you, mode "
                          "0700)", file=str(directory),
                          hint=f"chmod 700 {directory}, or pass --socket")


def _why_not_folder(directory: Path, error: OSError) -> str:
    """Why ``directory`` cannot be made: mkdir says "File exists" for a file, a symbolic
    link that leads nowhere or a loop of links, which reads as if all were well."""
    if error.errno == errno.EEXIST:
        return folder_problem(directory) or os_reason(error)
    return os_reason(error)


def _private_name(path: str) -> str | None:
    """A fresh name beside ``path`` to bind under before publishing; None when it would not
    fit in ``sun_path`` (then the kernel binds the path itself)."""
    name = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{secrets.token_hex(4)}")
    return name if len(os.fsencode(name)) < _SUN_PATH else None


def _publish(private: str, path: str) -> None:
    """Give the listening socket its path (``link``: fails if the path exists), then drop
    the private name."""
    try:
        os.link(private, path)
    except FileExistsError:
        raise _taken(path) from None
    except OSError as error:
        raise ListenError(f"cannot create the kernel socket: {error.strerror or error}",
                          file=path,
                          hint="pass --socket with a path in a directory you own") from error
    finally:
        with contextlib.suppress(OSError):
            os.unlink(private)


def _taken(path: str) -> ListenError:
    return ListenError("another iokit kernel is listening on this socket", file=path,
                       hint="stop it first (SIGTERM), or pass --socket with another path")


def _clear_stale(path: str) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as error:  # a name too long for the system
        raise ListenError(f"cannot create the kernel socket: {error.strerror or error}",
                          file=path,
                          hint="pass --socket with a path in a directory you own") from error
    if not stat.S_ISSOCK(info.st_mode):
        # A link is never followed (bind does not): say what it is, and where it leads.
        problem = path_problem(path) if stat.S_ISLNK(info.st_mode) else None
        what = f"a symbolic link ({problem})" if problem else "not a socket"
        raise ListenError(f"the socket path exists and is {what}", file=path,
                          hint="remove it, or pass --socket with another path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)  # a live kernel with a full backlog must not hold us up
    try:
        code = probe.connect_ex(path)
    finally:
        probe.close()
    if code in (errno.ECONNREFUSED, errno.ENOENT):  # left by a kernel that is gone
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(path).st_ino == info.st_ino:  # still that file, not a new kernel's
                os.unlink(path)
        return
    if code in (0, errno.EAGAIN, errno.EINPROGRESS):  # listening (maybe too busy to accept)
        raise _taken(path)
    raise ListenError(f"cannot tell whether a kernel listens on this socket: "
                      f"{os.strerror(code)}", file=path,
                      hint="remove it if no kernel runs, or pass --socket with another path")
