"""Which personalities run in a driver process, and the nub dexts wait on.

A personality runs out of process when it names ``IOUserServerName`` (a dext: IOKit's own
test, ``probeCandidates``), or when its kext is isolated: named with ``--isolate BUNDLE_ID``
or carrying ``IOKitHostIsolate`` = true in its Info.plist (a UMDF-style driver host for an
ordinary kext). Its server is then the ``IOUserServerName``, or the isolated kext's bundle id.
The binder asks :func:`proxy_for` for the class to instantiate and :func:`admit` instead of
importing the kext into the host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iokit_sdk import keys
from iokit_sdk.service import IOService

from iokit_host.dext.proxy import IOUserResources, proxy_class

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop
    from iokit_host.kext.bundle import KextBundle
    from iokit_host.matching.catalogue import CatalogueEntry

__all__ = ["ISOLATE_KEY", "admit", "proxy_for", "publish_user_resources", "server_name"]

#: Info.plist key asking for an ordinary kext's drivers to run in a driver process.
ISOLATE_KEY = "IOKitHostIsolate"
USER_RESOURCES = "IOUserResources"


def server_name(kernel: WorkLoop, entry: CatalogueEntry) -> str | None:
    """The server ``entry``'s driver runs in, or None when it runs in the kernel."""
    name = entry.table.get(keys.USER_SERVER_NAME)
    if isinstance(name, str) and name:
        return name
    bundle = entry.bundle
    if bundle is None or bundle.package is None:
        return None
    from iokit_host.dext.manager import manager_for

    if bundle.bundle_id in manager_for(kernel).isolated or bundle.info.get(ISOLATE_KEY) is True:
        return bundle.bundle_id
    return None


def proxy_for(kernel: WorkLoop, entry: CatalogueEntry) -> type[IOService] | None:
    """The kernel-side proxy class for ``entry``, or None for an in-kernel driver."""
    if entry.io_class is None or server_name(kernel, entry) is None:
        return None
    return proxy_class(entry.io_class)


def admit(kernel: WorkLoop, entry: CatalogueEntry, loaded: dict[str, KextBundle]) -> bool:
    """For an out-of-process personality, count its kext loaded without importing it into the
    host (its server imports it); False for an in-kernel one (load it as usual)."""
    bundle = entry.bundle
    if bundle is None or server_name(kernel, entry) is None:
        return False
    loaded.setdefault(bundle.bundle_id, bundle)
    return True


def publish_user_resources(kernel: WorkLoop) -> IOService | None:
    """Publish ``IOUserResources`` (with the ``IOKit`` resource dexts wait on) when a catalogued
    personality is a dext or matches on it; a real Mac always has it, this host only when it
    matters, so machines without dexts keep their registry as it was."""
    if not any(keys.USER_SERVER_NAME in e.table
               or e.table.get(keys.PROVIDER_CLASS) == USER_RESOURCES for e in kernel.catalogue):
        return None
    root = kernel.registry.plane_root(keys.SERVICE_PLANE)
    if not isinstance(root, IOService):
        return None
    for child in root.get_child_entries():
        if isinstance(child, IOService) and child.meta_cast(USER_RESOURCES):
            return child
    nub = IOUserResources({"IOKit": "IOKit"})
    kernel.link(nub, root)
    kernel.register_service(nub)
    return nub
