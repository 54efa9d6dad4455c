"""The iokit pytest plugin: fixtures that boot modelled machines with chosen kexts.

Loaded automatically (entry point ``pytest11``: ``iokit``) in any environment where iokit-host
is installed, so it imports nothing heavy at collection time. The fixtures are factories:

- ``iokit_machine(source, name=None)``: a :class:`~iokit_host.machine.model.MachineModel` from
  a dict in the machine-model TOML structure or from a model file;
- ``iokit_host(machine=None, kexts=(), *, boot=True, **options)``: a booted
  :class:`~iokit_host.host.IOKitHost` with **only** the named kexts (bundle ids of installed
  distributions, driver package folders, Info.plist paths, or bundles); ``kexts=None`` loads
  every installed kext instead;
- ``iokit_venv`` (session): a throwaway virtual environment with this iokit-sdk, iokit-host and
  pytest installed, for tests that ``pip install`` a driver and look at what a user would see
  (slow: created once per session, on first use).

Assertions on what became of a driver live in :mod:`iokit_host.testing`.

A driver's thread that a test's host left running, not a daemon, would keep the interpreter
from ever ending once the tests are over (as it would ``iokit boot``): the test's teardown warns,
``driver-thread-left-running``, naming the threads, and the run ends with pytest's own status
without waiting for them, as the ``iokit`` command does. While a test's hosts run, the test's
captured ``sys.stdout`` and ``sys.stderr`` cannot be closed by a driver (the driver's call fails,
``driver-changed-host``): closed, they ended the whole run with pytest's traceback.
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from iokit_host.host import IOKitHost
    from iokit_host.machine.model import MachineModel
    from iokit_host.testing.venv import Venv

__all__ = ["iokit_host", "iokit_machine", "iokit_venv", "pytest_sessionfinish"]

#: The threads the session's hosts left running, and the session's exit status.
_LEFT_RUNNING = pytest.StashKey[list[threading.Thread]]()
_EXIT_STATUS = pytest.StashKey[int]()


@pytest.fixture
def iokit_machine() -> Callable[..., MachineModel]:
    """Factory: ``iokit_machine(source, name=None) -> MachineModel``."""
    from iokit_host.testing.machines import build_machine

    return build_machine


@pytest.fixture
def iokit_host(monkeypatch: pytest.MonkeyPatch,
               request: pytest.FixtureRequest) -> Iterator[Callable[..., IOKitHost]]:
    """Factory: ``iokit_host(machine=None, kexts=(), *, boot=True, **options) -> IOKitHost``.

    :param machine: None (the built-in default machine), a built-in name, a model file,
        a :class:`MachineModel` or a dict in the machine-model TOML structure.
    :param kexts: the only kexts the host sees: bundle ids, paths or bundles; None for every
        installed kext.
    :param boot: False to get the host unbooted (to add plugins or inspect it first).
    :param options: passed on to :class:`IOKitHost` (``strict``, ``plugins``, ``clock``, ...).
    """

    def make(machine: Any = None, kexts: Iterable[Any] | None = (), *, boot: bool = True,
             **options: Any) -> IOKitHost:
        from iokit_host.host import IOKitHost
        from iokit_host.testing.kexts import kext_bundles, package_root
        from iokit_host.testing.machines import build_machine

        if isinstance(machine, Mapping):
            machine = build_machine(machine)
        _seal_captured_streams(unseal)
        bundles = None
        if kexts is not None:
            bundles = kext_bundles(kexts)
            for bundle in bundles:
                root = package_root(bundle)
                if root is not None and bundle.package is not None:
                    # A package loaded from a folder imports from there, for this test only.
                    monkeypatch.syspath_prepend(str(root))
                    path_packages.add(bundle.package)
        host = IOKitHost(machine if not isinstance(machine, Path) else str(machine),
                         kexts=bundles, **options)
        return host.boot() if boot else host

    path_packages: set[str] = set()
    unseal: dict[int, Callable[[], None]] = {}
    before = set(sys.modules)
    threads_before = set(threading.enumerate())
    yield make
    for undo in unseal.values():
        undo()
    _threads_left(request.config, [thread for thread in threading.enumerate()
                                   if thread not in threads_before])
    # Forget folder-loaded packages, so the next test can load another copy of the same name
    # (two versions of one library, say) from another folder.
    for name in set(sys.modules) - before:
        if name.partition(".")[0] in path_packages:
            del sys.modules[name]


def _seal_captured_streams(unseal: dict[int, Callable[[], None]]) -> None:
    """Seal the ``close`` of ``sys.stdout`` and ``sys.stderr``: pytest reads a test's capture
    after the test, and its terminal writes through the stream it began with (``-s``), so
    neither may be closed, even to be reopened by the host's stream guard; ``unseal`` gets
    each undo, by the stream's id."""
    from iokit_host.kernel.host_fence import seal_stream_close

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None or id(stream) in unseal:
            continue
        undo = seal_stream_close(stream, name)
        if undo is not None:
            unseal[id(stream)] = undo


def _threads_left(config: pytest.Config, started: list[threading.Thread]) -> None:
    """Warn of the threads a test's drivers ``started`` that still run (not daemons), and have
    the run end without waiting for them."""
    from iokit_host.cli.last_resort import lingering_threads
    from iokit_host.errors import Diagnostic, Severity, quoted

    names = lingering_threads(started)
    if not names:
        return
    if _LEFT_RUNNING not in config.stash:
        config.stash[_LEFT_RUNNING] = []
        # Run by the interpreter before it waits for the threads it would wait for for ever.
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            register(_end_without_threads, config)
    config.stash[_LEFT_RUNNING] += started
    shown = ", ".join(quoted(name) for name in names[:5]) + (" ..." if len(names) > 5 else "")
    warnings.warn(pytest.PytestWarning(str(Diagnostic(
        "driver-thread-left-running", f"{len(names)} thread(s) a driver started in this "
        f"test still run after it ({shown}); the test run ends without waiting for them",
        severity=Severity.WARNING,
        hint="a driver's threads end in its stop (join them there), or are daemon threads"))),
        stacklevel=1)


def _end_without_threads(config: pytest.Config) -> None:
    """At the interpreter's exit: end the process with the session's status, not waiting for
    the driver threads still running."""
    from iokit_host.cli.last_resort import end_despite_threads, lingering_threads

    names = lingering_threads(config.stash.get(_LEFT_RUNNING, []))
    if names:
        end_despite_threads(config.stash.get(_EXIT_STATUS, 1), names)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Keep the session's exit status for a run that must end without its drivers' threads."""
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


@pytest.fixture(scope="session")
def iokit_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A virtual environment with iokit-sdk, iokit-host (from where they are installed here)
    and pytest; ``.pip_install(...)`` and ``.run(...)`` work in it."""
    from iokit_host.testing.venv import create_venv, requirement_for

    return create_venv(tmp_path_factory.mktemp("iokit-venv"), requirements=[
        requirement_for("iokit-sdk", "iokit_sdk"), requirement_for("iokit-host", "iokit_host"),
        "pytest>=8"])
