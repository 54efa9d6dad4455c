"""Which process a dext's service runs in: ``IOUserServerOneProcess`` (IOService.cpp
``startCandidate``, IOUserServer.cpp ``launchUserServer``).

IOKit launches a new server process for every service a dext personality starts on (the
check-in token is keyed by the server name *and* the service's registry id, the server's tag),
so a dext driving two devices runs in two processes, and one crashing leaves the other
running. A personality carrying ``IOUserServerOneProcess`` (any value: its presence) instead
reuses the running server of that ``IOUserServerName``, or shares a launch in progress, even
one started by another dext, provided the server name begins with the dext bundle id's
organisation (its first two components and the dot after them, ``com.example.``); otherwise
IOKit logs ``IOUserServerName "..." not correct organization for bundleID "..."`` and launches a
process of its own. When the provider itself belongs to that server (it carries the same
``IOUserServerName``) the reuse is required: with no such server running the service fails.

An isolated kext (``--isolate``) is not a dext: all its drivers share one process per bundle
id, as a UMDF driver host does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from iokit_sdk import keys
from iokit_sdk.service import IOService

from iokit_host.errors import Diagnostic, Severity

if TYPE_CHECKING:
    from iokit_host.dext.manager import DextManager
    from iokit_host.dext.proxy import DextObject
    from iokit_host.dext.records import ServerRecord

__all__ = ["ONE_PROCESS_KEY", "one_process", "process_for", "reuse_required",
           "same_organisation"]

ONE_PROCESS_KEY = "IOUserServerOneProcess"


def same_organisation(bundle_id: str, server: str) -> bool:
    """The server name starts with the bundle id up to and including its second dot."""
    first = bundle_id.find(".")
    second = bundle_id.find(".", first + 1) if first >= 0 else -1
    return second >= 0 and server.startswith(bundle_id[:second + 1])


def one_process(personality: Mapping[str, Any]) -> bool:
    """The personality asks to reuse its server (``IOUserServerOneProcess`` present)."""
    return ONE_PROCESS_KEY in personality


def reuse_required(personality: Mapping[str, Any], provider: IOService | None) -> bool:
    """Reuse is required: the personality asks for it and its provider is a service of the
    same server (it carries the same ``IOUserServerName``)."""
    server = personality.get(keys.USER_SERVER_NAME)
    return one_process(personality) and provider is not None and server is not None \
        and provider.get_property(keys.USER_SERVER_NAME) == server


def process_for(manager: DextManager, proxy: DextObject, provider: IOService | None
                ) -> ServerRecord | None:
    """The process ``proxy``'s driver runs in: its server's when the personality asks for one
    process (or the kext is isolated), else one of its own (a free record of that server, or
    a new one keyed ``<server>-0x<tag>``); None when a required reuse finds no server."""
    personality = proxy.dext_personality
    dext_name = personality.get(keys.USER_SERVER_NAME)
    bundle_id = str(personality.get(keys.BUNDLE_IDENTIFIER, ""))
    server = dext_name if isinstance(dext_name, str) and dext_name else bundle_id
    primary = manager.record(server, server, bundle_id)
    if server != dext_name:
        return primary  # an isolated kext: one process per bundle id
    if one_process(personality):
        if same_organisation(bundle_id, server):
            running = primary.process is not None and primary.process.alive
            if not running and reuse_required(personality, provider):
                _not_reused(manager, bundle_id, "failed to reuse server: the provider's own "
                                                "server is not running")
                return None
            return primary
        _not_reused(manager, bundle_id, f"{keys.USER_SERVER_NAME} \"{server}\" not correct "
                                        f"organization for bundleID \"{bundle_id}\"")
    own = manager.servers.get(proxy.dext_server or "")
    for record in (own, primary, *manager.servers.values()):
        if record is not None and record.server == server and record.bundle_id == bundle_id \
                and record.free:
            return record
    tag = proxy.get_registry_entry_id()
    if not tag:
        tag = len(manager.servers) + 1  # not yet in the registry: any key that is new
        while f"{server}-0x{tag:x}" in manager.servers:
            tag += 1
    return manager.record(f"{server}-0x{tag:x}", server, bundle_id)


def _not_reused(manager: DextManager, bundle_id: str, why: str) -> None:
    manager.report_once(Diagnostic(
        "dext-server-not-reused", f"{bundle_id}: {why}", subject=bundle_id,
        key=ONE_PROCESS_KEY, severity=Severity.WARNING,
        hint=f"one process is shared only by dexts whose {keys.USER_SERVER_NAME} begins with "
             "their bundle id's first two components (com.example.)"))
