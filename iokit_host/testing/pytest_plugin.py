"""The iokit pytest plugin: fixtures that boot modelled machines with chosen kexts.

Loaded automatically (entry point ``pytest11``: ``iokit``) in any environment where iokit-host
is installed, so it imports nothing heavy at collection time. The fixtures are factories:

- ``iokit_machine(source, name=None)``: a :class:`~iokit_host.machine.model.MachineModel` from
  a dict in the machine-model TOML structure or from a model file;
- ``iokit_host(machine=None, kexts=(), *, boot=True, **options)``: a booted
  :class:`~iokit_host.host.IOKitHost` with **only** the named kexts (bundle ids of installed
  distributions, driver package folders, Info.plist paths, or bundles); ``kexts=None`` loads
  every installed kext instead.

Assertions on what became of a driver live in :mod:`iokit_host.testing`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from iokit_host.host import IOKitHost
    from iokit_host.machine.model import MachineModel

__all__ = ["iokit_host", "iokit_machine"]


@pytest.fixture
def iokit_machine() -> Callable[..., MachineModel]:
    """Factory: ``iokit_machine(source, name=None) -> MachineModel``."""
    from iokit_host.testing.machines import build_machine

    return build_machine


@pytest.fixture
def iokit_host(monkeypatch: pytest.MonkeyPatch) -> Callable[..., IOKitHost]:
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
                if root is not None:
                    # A package loaded from a folder imports from there, for this test only.
                    monkeypatch.syspath_prepend(str(root))
        host = IOKitHost(machine if not isinstance(machine, Path) else str(machine),
                         kexts=bundles, **options)
        return host.boot() if boot else host

    return make
