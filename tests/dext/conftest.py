"""Fixtures for DriverKit tests: hosts whose driver processes are real children of the test.

Every host a test builds is shut down on teardown, and the test then fails if a child process
is left behind, running or unreaped (a zombie). Waits are on sockets and process exits with
bounded timeouts, never sleeps.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from iokit_host.dext.manager import DextManager, manager_for
from iokit_host.host import IOKitHost
from iokit_host.testing.kexts import kext_bundles

KEXTS = Path(__file__).parent / "kext"
DEXT = KEXTS / "iokit_test_dext"
ISOLATED = KEXTS / "iokit_test_isolated"
DEXT_ID = "com.example.test.dext"
ISOLATED_ID = "com.example.test.isolated"
#: Bounded real-time wait for a killed server's socket to close.
EXIT_WAIT_S = 10.0


def children() -> list[int]:
    """This process's child pids (running or zombie)."""
    found: list[int] = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            text = (task / "children").read_text(encoding="ascii")
        except OSError:  # a thread that ended since the listing (a watchdog retiring)
            continue
        found += [int(pid) for pid in text.split()]
    return found


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def dext_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., IOKitHost]]:
    """``make(*kext_paths, mode="", isolate=(), machine=None, **env)``: a booted host whose
    test kexts are read from ``tests/dext/kext``; ``mode`` is the test dext's fault."""
    before = set(children())
    hosts: list[IOKitHost] = []

    def make(*paths: Path, mode: str = "", isolate: tuple[str, ...] = (),
             machine: Any = None, boot: bool = True, **env: str) -> IOKitHost:
        monkeypatch.setenv("IOKIT_TEST_DEXT_MODE", mode)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        host = IOKitHost(machine, kexts=kext_bundles(paths or (DEXT,)))
        hosts.append(host)
        manager_for(host.kernel).isolated.update(isolate)
        return host.boot() if boot else host

    yield make
    for host in hosts:
        manager_for(host.kernel).shutdown()
    left = set(children()) - before
    assert not left, f"driver processes left behind: {sorted(left)}"


def dexts(host: IOKitHost) -> DextManager:
    return manager_for(host.kernel)


def camera(host: IOKitHost) -> Any:
    found = host.find("FaceTime HD Camera (Built-in)")
    assert found is not None
    return found


def camera_driver(host: IOKitHost) -> Any:
    """The live driver on the camera (the dext's proxy), or None."""
    for client in camera(host).get_clients():
        if not client.is_inactive() and client.has_property("DriverPid"):
            return client
    return None
