"""The listening socket: private modes, stale files replaced, a live kernel or a file refused."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
from collections.abc import Iterator

import pytest
from kernelkit import short_dir

from iokit_host.server.listener import Listener, ListenError, resolve_group


@pytest.fixture
def directory() -> Iterator[str]:
    path = short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_socket_is_0600_and_removed_on_close(directory: str) -> None:
    path = os.path.join(directory, "sub", "k.sock")
    listener = Listener(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    listener.close()
    assert not os.path.exists(path)


def test_a_relative_socket_path_stays_put_when_the_working_directory_moves(
        directory: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kext's ``os.chdir`` in a request is put back only after it: meanwhile the socket watch
    found a relative path gone, republished the socket in the driver's directory (new clients
    were refused at the old file) and shutdown removed neither file."""
    monkeypatch.chdir(directory)
    listener = Listener("k.sock")
    elsewhere = short_dir()
    try:
        os.chdir(elsewhere)
        assert listener.state() == "ours"
        listener.close()
        assert os.listdir(directory) == [] and os.listdir(elsewhere) == []
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)


def test_a_group_socket_is_0660(directory: str) -> None:
    listener = Listener(os.path.join(directory, "k.sock"), gid=os.getgid())
    assert stat.S_IMODE(os.stat(listener.path).st_mode) == 0o660
    listener.close()


def test_a_live_socket_or_a_plain_file_is_refused(directory: str) -> None:
    path = os.path.join(directory, "k.sock")
    live = Listener(path)
    with pytest.raises(ListenError, match="another iokit kernel is listening"):
        Listener(path)
    live.close()
    with open(path, "w", encoding="utf-8"):
        pass
    with pytest.raises(ListenError, match="not a socket"):
        Listener(path)


def test_a_name_too_long_for_the_system_is_said_so(directory: str) -> None:
    # lstat's ENAMETOOLONG escaped as a bare file-error, not kernel-socket-unusable.
    with pytest.raises(ListenError, match="cannot create the kernel socket: File name too"):
        Listener(os.path.join(directory, "a" * 300))


def test_a_live_kernel_too_busy_to_accept_is_still_refused_at_once(directory: str) -> None:
    """A kernel whose backlog is full (stuck in a long driver call): the probe must neither
    wait for it nor take it for dead and steal its path."""
    path = os.path.join(directory, "k.sock")
    busy = Listener(path)
    waiting: list[socket.socket] = []
    try:
        while True:  # fill its backlog: the next connect would block
            client = socket.socket(socket.AF_UNIX)
            client.setblocking(False)
            waiting.append(client)
            if client.connect_ex(path):
                break
        with pytest.raises(ListenError, match="another iokit kernel is listening"):
            Listener(path)
        assert os.stat(path).st_ino == busy._identity.st_ino  # still the busy kernel's
    finally:
        for client in waiting:
            client.close()
        busy.close()


def test_the_socket_is_published_listening_and_leaves_no_private_name(directory: str) -> None:
    path = os.path.join(directory, "k.sock")
    listener = Listener(path)
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(path)  # listening from the moment the path exists
    assert os.listdir(directory) == ["k.sock"]
    listener.close()
    assert os.listdir(directory) == []


def test_closing_leaves_a_socket_that_replaced_ours_in_place(directory: str) -> None:
    path = os.path.join(directory, "k.sock")
    ours = Listener(path)
    os.unlink(path)  # deleted under the running kernel, and another one started there
    other = Listener(path)
    ours.close()
    assert os.path.exists(path)  # the other kernel's, untouched
    other.close()
    assert not os.path.exists(path)


def test_a_stale_socket_is_replaced(directory: str) -> None:
    path = os.path.join(directory, "k.sock")
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(path)
    Listener(path).close()


def test_a_private_default_directory_must_be_private(directory: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", directory)
    private = os.path.join(directory, "iokit")
    os.mkdir(private, 0o755)
    os.chmod(private, 0o755)
    with pytest.raises(ListenError, match="not private"):
        Listener(os.path.join(private, "kernel.sock"))


def test_groups_by_name_or_number() -> None:
    assert resolve_group("0") == 0
    with pytest.raises(ListenError, match="no group named"):
        resolve_group("no-such-group-here")
    for number in ("4294967295", "99999999999999999999999"):  # chown's -1; an OverflowError
        with pytest.raises(ListenError, match="past the largest gid"):
            resolve_group(number)


def test_a_socket_directory_that_is_a_file_or_a_link_loop_says_so(directory: str) -> None:
    """Both were "cannot make the socket's directory: File exists", as if all were well."""
    a_file = os.path.join(directory, "file")
    with open(a_file, "w", encoding="utf-8"):
        pass
    with pytest.raises(ListenError, match="directory: it exists and is not a folder\\n"):
        Listener(os.path.join(a_file, "k.sock"))
    loop = os.path.join(directory, "loop")
    os.symlink(loop + "2", loop)
    os.symlink(loop, loop + "2")
    with pytest.raises(ListenError, match=f"directory: {os.strerror(errno.ELOOP)}\n"):
        Listener(os.path.join(loop, "k.sock"))
    with pytest.raises(ListenError, match="is a symbolic link \\(Too many levels"):
        Listener(loop)  # the socket's own name a loop: not "not a socket"
    nowhere = os.path.join(directory, "nowhere")
    os.symlink(os.path.join(directory, "gone"), nowhere)
    with pytest.raises(ListenError, match="directory: it is a symbolic link that leads nowhere"):
        Listener(os.path.join(nowhere, "k.sock"))
