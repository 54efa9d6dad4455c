"""Importing a kext's code, lazily (``OSKext::load`` + ``OSRuntimeInitializeCPP``).

A kext's classes exist only once its code is loaded: the kernel links the executable and runs
its static constructors, which register its OSMetaClasses. Here that is importing the driver
package, which happens only when the matching engine has a personality of the kext that survived
passive matching. The classes a kext contributes are the :class:`IORegistryEntry` subclasses
its package defines or lists in ``__all__``. Any exception while importing is reported as a
:class:`KextLoadError` (``kext-import-failed``) naming the package and the exception, so one
broken driver never takes the host down.
"""

from __future__ import annotations

import importlib

from iokit_sdk.entry import IORegistryEntry

from iokit_host.errors import IOKitError
from iokit_host.kext.bundle import KextBundle

__all__ = ["KextLoadError", "import_kext_classes"]

_HOST_PACKAGES = frozenset({"iokit_sdk", "iokit_host"})


class KextLoadError(IOKitError):
    """A kext's code could not be loaded (``kOSKextReturnLinkError`` territory)."""

    reference = "kext-import-failed"


def import_kext_classes(bundle: KextBundle) -> tuple[type[IORegistryEntry], ...]:
    """Import ``bundle.package`` and return the IOKit classes it defines or exports.

    A codeless kext (no package) contributes no classes.

    :raises KextLoadError: the import raised; the original exception is chained.
    """
    if bundle.package is None:
        return ()
    try:
        module = importlib.import_module(bundle.package)
    except Exception as error:
        import traceback  # only for a kext that fails to import

        where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
        at = f" at {where.filename}:{where.lineno}" if where else ""
        raise KextLoadError(
            f"importing {bundle.package} failed: {type(error).__name__}: {error}{at}",
            file=bundle.source, subject=bundle.bundle_id, key=bundle.package,
            hint=f"run python -c 'import {bundle.package}' to see the full traceback; "
                 "the kext's personalities are skipped until it imports") from error
    exported = getattr(module, "__all__", None)
    names = list(exported) if isinstance(exported, (list, tuple)) else list(vars(module))
    classes: dict[str, type[IORegistryEntry]] = {}
    for name in names:
        value = getattr(module, name, None)
        if not (isinstance(value, type) and issubclass(value, IORegistryEntry)):
            continue
        home = value.__module__.split(".")[0]
        if home in _HOST_PACKAGES:
            continue  # the SDK's own classes are the host's, never a kext's
        if exported is not None or home == bundle.package.split(".")[0]:
            classes.setdefault(value.iokit_class_name, value)
    return tuple(classes.values())
