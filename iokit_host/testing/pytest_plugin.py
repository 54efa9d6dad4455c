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
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from iokit_host.host import IOKitHost
    from iokit_host.machine.model import MachineModel
    from iokit_host.testing.venv import Venv

__all__ = ["iokit_host", "iokit_machine", "iokit_venv"]


@pytest.fixture
def iokit_machine() -> Callable[..., MachineModel]:
    """Factory: ``iokit_machine(source, name=None) -> MachineModel``."""
    from iokit_host.testing.machines import build_machine

    return build_machine


@pytest.fixture
def iokit_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., IOKitHost]]:
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
    before = set(sys.modules)
    yield make
    # Forget folder-loaded packages, so the next test can load another copy of the same name
    # (two versions of one library, say) from another folder.
    for name in set(sys.modules) - before:
        if name.partition(".")[0] in path_packages:
            del sys.modules[name]


@pytest.fixture(scope="session")
def iokit_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A virtual environment with iokit-sdk, iokit-host (from where they are installed here)
    and pytest; ``.pip_install(...)`` and ``.run(...)`` work in it."""
    from iokit_host.testing.venv import create_venv, requirement_for

    return create_venv(tmp_path_factory.mktemp("iokit-venv"), requirements=[
        requirement_for("iokit-sdk", "iokit_sdk"), requirement_for("iokit-host", "iokit_host"),
        "pytest>=8"])
