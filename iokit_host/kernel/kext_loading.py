"""Loading a kext the first time one of its personalities matches: IOKit's ``OSKext::load``.

IOKit keeps personalities in the catalogue without loading their kexts; the first time one
survives passive matching, the kext is loaded (``OSKext::loadKextWithIdentifier``), and
``OSKext::load`` loads the libraries it links against first. Here loading means importing the
kext's Python package and registering its classes (the OSMetaClass role), libraries first; the
host's own ``com.apple.kpi.*`` libraries are part of the kernel. A kext that fails to load is
remembered with its diagnostic, so later matches of it are refused at once with the same reason.
Importing runs the package's module code, so it is a guarded driver call: an import that
raises (``SystemExit`` included) or hangs past the watchdog's limit fails that kext alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iokit_host.errors import Diagnostic, IOKitError
from iokit_host.kernel.class_seal import SEALED_HINT, sdk_seal
from iokit_host.kernel.driver_calls import DriverFault, patched_misdeed
from iokit_host.kernel.host_fence import DriverMisdeed, ModuleGuard
from iokit_host.kernel.import_guard import REMOVED_HINT, ImportGuard

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop
    from iokit_host.kext.bundle import KextBundle

__all__ = ["KextLoader"]


class KextLoader:
    """The kexts one kernel has loaded, and those that failed to."""

    def __init__(self, kernel: WorkLoop) -> None:
        self.kernel = kernel
        self.loaded: dict[str, KextBundle] = {}
        self.failed: dict[str, Diagnostic] = {}

    def ensure_loaded(self, bundle: KextBundle) -> Diagnostic | None:
        """Load ``bundle`` unless it is loaded already; the diagnostic when it cannot be."""
        if bundle.bundle_id in self.loaded:
            return None
        if bundle.bundle_id not in self.failed:
            self._load(bundle)
        return self.failed.get(bundle.bundle_id)

    def _load(self, bundle: KextBundle) -> bool:
        """Load ``bundle`` and, first, the libraries it links against (``OSKext::load``)."""
        for dependency in self._dependencies(bundle):
            if dependency.bundle_id not in self.loaded and not self._load(dependency):
                self.failed[bundle.bundle_id] = Diagnostic(
                    "kext-dependency-failed", f"library {dependency.bundle_id} failed to load",
                    subject=bundle.bundle_id)
                return False
        if bundle.package is not None:
            # Importing runs the package's module code: a driver call like any other.
            imports = ImportGuard()
            classes = self.kernel.driver_calls.call(_import_kext_classes, bundle)
            self._check_imports(imports, bundle)
            if isinstance(classes, DriverFault):
                return self._load_failed(bundle, _import_failure(bundle, classes))
            try:
                self.kernel.classes.register_kext_classes(bundle.bundle_id, classes)
            except IOKitError as error:
                return self._load_failed(bundle, error.diagnostic)
        self.loaded[bundle.bundle_id] = bundle
        return True

    def _check_imports(self, imports: ImportGuard, bundle: KextBundle) -> None:
        """Guard the import finders and hooks the kext's module code added; put back the
        host's it removed (:mod:`.import_guard`)."""
        restored = imports.check(f"by kext {bundle.bundle_id}", self.kernel.report)
        if restored:
            self.kernel.report(Diagnostic(
                "driver-changed-host", f"importing {bundle.package} removed the host's "
                f"{', '.join(restored[:4])}; put back", subject=bundle.bundle_id,
                file=bundle.source, hint=REMOVED_HINT))

    def _load_failed(self, bundle: KextBundle, diagnostic: Diagnostic) -> bool:
        self.failed[bundle.bundle_id] = diagnostic
        self.kernel.report(diagnostic)
        return False

    def _dependencies(self, bundle: KextBundle) -> list[KextBundle]:
        """The libraries ``bundle`` links against that still need loading: the host's own
        (``com.apple.kpi.*``) are part of the kernel and loaded already."""
        resolution = self.kernel.resolution
        if resolution is None:
            return []
        builtin = {library.bundle_id for library in resolution.builtin}
        return [library for library_id in resolution.dependencies(bundle.bundle_id)
                if library_id not in builtin
                and (library := resolution.bundle(library_id)) is not None]


def _import_failure(bundle: KextBundle, fault: DriverFault) -> Diagnostic:
    if isinstance(fault.error, IOKitError):
        return fault.error.diagnostic
    if fault.timed_out:
        return Diagnostic(
            "driver-call-timeout", fault.reason(f"importing {bundle.package}"),
            file=bundle.source, subject=bundle.bundle_id, key=bundle.package, hint="module code must not wait for hardware; do it in start. "
                 "IOKIT_DRIVER_TIMEOUT=<seconds> sets the limit")
    reference = fault.reference("kext-import-failed")
    return Diagnostic(
        reference, fault.reason(f"importing {bundle.package}"),
        file=bundle.source, subject=bundle.bundle_id, key=bundle.package,
        hint=_IMPORT_HINTS.get(reference, SEALED_HINT))


#: What to do about each way a kext's import can fail; what else it did to the host (it
#: patched the SDK's classes, rebound what every driver shares) is :data:`SEALED_HINT`'s.
_IMPORT_HINTS = {
    "kext-import-failed": "fix the import error in the driver package",
    "driver-exited": "a kext's module code runs in the kernel's process: fail the import by "
                     "raising, never exit the process (or make the driver a dext)",
    "driver-forked": "a kext's module code must not fork the kernel's process: spawn a helper "
                     "with subprocess in start, or make the driver a dext",
}


def _import_kext_classes(bundle: KextBundle) -> tuple[type[Any], ...]:
    from iokit_host.kext.loader import import_kext_classes

    modules = ModuleGuard()
    classes = tuple(import_kext_classes(bundle))
    lost = modules.check(full=True)
    if lost:  # the next kext to import the SDK would get a copy of it: refused as unknown
        raise DriverMisdeed("driver-changed-host", f"deleted or replaced {len(lost)} of the "
                            f"shared modules in sys.modules ({', '.join(lost[:4])}; put back)")
    # Module code is where a class is patched most (``IOService.x = ...`` at import): every
    # SDK class is checked here, not only the service classes each driver call checks.
    seal = sdk_seal()
    if not seal.intact():
        changes = seal.repair()
        if changes:
            raise patched_misdeed(changes)
    return classes
