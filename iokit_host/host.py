"""IOKitHost: the composition root that owns one modelled kernel (registry, classes, kexts).

A Mac's kernel is a set of globals (``gIOCatalogue``, ``gIOServiceRoot``, ``sKextsByID``); here
one :class:`IOKitHost` object owns all of that state, so tests build as many hosts as they like
and nothing happens at import time. ``boot`` does what a Mac's boot does, in order: build the
machine's nubs, resolve the installed kexts, fill the catalogue and run matching.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iokit_host.classes import ClassRegistry
from iokit_host.errors import Diagnostic
from iokit_host.registry import IORegistry

if TYPE_CHECKING:
    from iokit_host.machine.model import MachineModel

__all__ = ["IOKitHost"]


class IOKitHost:
    """One modelled kernel.

    :param machine: a :class:`MachineModel`, a built-in machine's name, a model file or an
        ioreg dump path; None is the built-in default machine.
    :param kexts: kext bundles to use instead of discovering installed distributions
        (for tests: only these are loaded).
    :param kext_paths: extra ``Info.plist`` files or kext folders to load as codeless kexts.
    :param defines: values for build placeholders such as ``$(PRODUCT_BUNDLE_IDENTIFIER)``.
    :param strict: make driver and kext failures fatal (``IOKIT_STRICT=1`` does the same).
    """

    def __init__(
        self,
        machine: MachineModel | str | Path | None = None,
        *,
        kexts: Sequence[Any] | None = None,
        kext_paths: Sequence[str | Path] = (),
        defines: Mapping[str, str] | None = None,
        strict: bool = False,
    ) -> None:
        self.machine_spec = machine
        self.kext_override = kexts
        self.kext_paths = tuple(kext_paths)
        self.defines = dict(defines or {})
        self.strict = strict
        self.classes = ClassRegistry()
        self.registry = IORegistry()
        self.diagnostics: list[Diagnostic] = []
        self.machine: MachineModel | None = None
        self.booted = False

    def load_machine(self) -> MachineModel:
        """Resolve and build the machine's nubs into the registry (first step of ``boot``)."""
        from iokit_host.machine import load_machine
        from iokit_host.machine.build import populate

        model = load_machine(self.machine_spec)
        self.machine = model
        for plane in model.planes:
            self.registry.make_plane(plane)
        self.classes.declare(model.classes)
        populate(self, model)
        return model

    def boot(self) -> IOKitHost:
        """Build the machine; later steps (kexts, matching) extend this."""
        if not self.booted:
            self.load_machine()
            self.booted = True
        return self
