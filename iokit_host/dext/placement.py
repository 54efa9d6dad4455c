"""Which personalities run in a driver process, and the nub dexts wait on.

A personality runs out of process when it names ``IOUserServerName`` (a dext: IOKit's own
test, ``probeCandidates``), or when its kext is isolated: named with ``--isolate BUNDLE_ID``
or carrying ``IOKitHostIsolate`` = true in its Info.plist (a UMDF-style driver host for an
ordinary kext). Its server is then the ``IOUserServerName``, or the isolated kext's bundle id.
The binder asks :func:`proxy_for` for the class to instantiate and :func:`admit` instead of
importing the kext into the host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iokit_sdk import keys
from iokit_sdk.service import IOService

from iokit_host.dext.proxy import IOUserResources, IOUserService, proxy_class
from iokit_host.errors import Diagnostic, Severity

if TYPE_CHECKING:
    from iokit_host.kernel.protocol import WorkLoop
    from iokit_host.kext.bundle import KextBundle
    from iokit_host.matching.catalogue import CatalogueEntry

__all__ = ["ISOLATE_KEY", "admit", "entitlement_refusal", "proxy_for", "publish_user_resources",
           "server_name", "user_client_refusal_for"]

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


def entitlement_refusal(kernel: WorkLoop, entry: CatalogueEntry, nub: IOService) -> str | None:
    """Why DriverKit's entitlement checks refuse the dext ``entry`` on ``nub``
    (:mod:`.entitled`), reported once per dext, personality and nub; None when they pass, or
    for anything but a dext (an isolated kext is an ordinary kext: no signature is checked)."""
    if keys.USER_SERVER_NAME not in entry.table or entry.bundle is None:
        return None
    from iokit_host.dext.entitled import dext_refusal
    from iokit_host.dext.manager import manager_for

    manager = manager_for(kernel)
    reason = dext_refusal(manager.entitlements(entry.bundle), entry.table, nub)
    if reason is not None:
        manager.report_once(Diagnostic(
            "dext-not-entitled", f"{entry.bundle_id} ({entry.name}) may not drive "
            f"{nub.get_name()}: {reason}; Entitlements check failed",
            subject=entry.bundle_id, key=f"IOKitPersonalities.{entry.name}",
            hint="a dext's entitlements are its Entitlements.plist (or NAME.entitlements) "
                 "beside its Info.plist, as its code signature carries them; add what is "
                 "missing (docs/driverkit.md)"), nub)
    return reason


def user_client_refusal_for(kernel: WorkLoop, proxy: IOUserService, task: Any,
                            client: IOService) -> str | None:
    """``serviceNewUserClient``'s entitlement checks (:mod:`.entitled`) for the user client
    ``client`` the dext behind ``proxy`` made for ``task``; the refusal is reported. None for
    an isolated kext (an ordinary user client's checks apply)."""
    from iokit_host.dext.entitled import (
        ALLOW_ANY_USERCLIENT,
        DEXT_ENTITLEMENTS_KEY,
        USERCLIENT_ACCESS,
        user_client_refusal,
    )
    from iokit_host.dext.manager import manager_for

    bundle_id = proxy.dext_personality.get(keys.BUNDLE_IDENTIFIER)
    resolution = kernel.resolution
    bundle = resolution.bundle(bundle_id) if resolution is not None \
        and isinstance(bundle_id, str) else None
    if bundle is None or keys.USER_SERVER_NAME not in proxy.dext_personality:
        return None
    held = frozenset(getattr(task, "entitlements", ()) or ())
    refusal = user_client_refusal(manager_for(kernel).entitlements(bundle), bundle.bundle_id,
                                  held, client.get_property(DEXT_ENTITLEMENTS_KEY))
    if refusal is not None:
        kernel.report(Diagnostic(
            "dext-user-client-not-permitted",
            f"{getattr(task, 'name', 'a program')} (pid {getattr(task, 'pid', '?')}) may not "
            f"open {proxy.get_name()}: {refusal}; kIOReturnNotPermitted",
            subject=bundle.bundle_id, severity=Severity.WARNING,
            hint=f"grant the program {USERCLIENT_ACCESS}={bundle.bundle_id} (the entitlement "
                 f"policy), or give the dext {ALLOW_ANY_USERCLIENT}"))
    return refusal


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
