"""DriverKit's entitlement checks (``IOUserServer::checkEntitlements``, ``serviceNewUserClient``).

Three gates, as IOKit applies them:

- **the server**: a dext's process may open its ``IOUserServer`` connection only with
  ``com.apple.developer.driverkit`` = true (``IOUserServer::withTask``), else it never runs;
- **dext and provider** (``checkEntitlements(provider, dext)``): the provider's
  ``IOServiceDEXTEntitlements`` is a list of alternatives, each a list of entitlement names;
  some alternative must be wholly held by the dext. The values of those entitlements are then
  merged into a copy of the dext's properties and the provider's family must accept them
  (``matchPropertyTable``): a USB device's vendor must be one the USB transport entitlement
  lists, a PCI function must match one of the PCI transport entitlement's dictionaries. Then the
  dext personality's own ``IOServiceDEXTEntitlements`` must be held too;
- **a program's user client** (``serviceNewUserClient``): the program holds
  ``com.apple.private.driverkit.driver-access`` naming entitlements the dext holds, or the dext
  holds ``com.apple.developer.driverkit.allow-any-userclient-access``, or the program's
  ``com.apple.developer.driverkit.userclient-access`` names the dext's bundle id; then the user
  client's own ``IOServiceDEXTEntitlements`` must be held by the program.

Families set ``IOServiceDEXTEntitlements`` on their nubs (``IOPCIBridge`` does on every
``IOPCIDevice``); a family nub here that does not carry it (a modelled machine, an old dump) is
read as carrying its family's: the USB transport for USB devices and interfaces, the PCI
transport for PCI functions.

A program's entitlements are names (the entitlement policy grants names); an array-valued one
is granted one name per element, ``NAME=VALUE``: ``com.apple.developer.driverkit.userclient-
access=com.example.driver.CameraDext`` is the array holding that bundle id.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from iokit_sdk.service import IOService

from iokit_host.dext.entitlements import DextEntitlements

__all__ = ["ALLOW_ANY_USERCLIENT", "DEXT_ENTITLEMENTS_KEY", "DRIVERKIT", "DRIVER_ACCESS",
           "PCI_TRANSPORT", "USB_TRANSPORT", "USERCLIENT_ACCESS", "alternatives",
           "dext_refusal", "provider_requirement", "user_client_refusal"]

DEXT_ENTITLEMENTS_KEY = "IOServiceDEXTEntitlements"
DRIVERKIT = "com.apple.developer.driverkit"
USB_TRANSPORT = "com.apple.developer.driverkit.transport.usb"
PCI_TRANSPORT = "com.apple.developer.driverkit.transport.pci"
BUILTIN = "com.apple.developer.driverkit.builtin"
USERCLIENT_ACCESS = "com.apple.developer.driverkit.userclient-access"
ALLOW_ANY_USERCLIENT = "com.apple.developer.driverkit.allow-any-userclient-access"
DRIVER_ACCESS = "com.apple.private.driverkit.driver-access"

_FAMILY_REQUIREMENTS: dict[str, list[list[str]]] = {
    "IOUSBHostDevice": [[USB_TRANSPORT]],
    "IOUSBHostInterface": [[USB_TRANSPORT]],
    "IOPCIDevice": [[PCI_TRANSPORT]],
}


def alternatives(requirement: Any) -> list[list[str]]:
    """``IOServiceDEXTEntitlements`` read as alternatives: a string is one name; an array's
    strings are alternatives of one name each, its arrays alternatives of all their names.
    Anything else in it is an alternative nobody holds (it never passes)."""
    if isinstance(requirement, str):
        return [[requirement]]
    if not isinstance(requirement, (list, tuple)):
        return [[""]] if requirement is not None else []
    found: list[list[str]] = []
    for item in requirement:
        if isinstance(item, str):
            found.append([item])
        elif isinstance(item, (list, tuple)) and all(isinstance(n, str) for n in item):
            found.append(list(item))
        else:
            found.append([""])
    return found


def _named(missing: list[str]) -> str:
    return ", ".join(name or "an entitlement that is not a name" for name in missing)


def _held(requirement: Any, holds: Collection[str] | Mapping[str, Any]
          ) -> tuple[list[str] | None, list[str]]:
    """The first alternative wholly held (None when none is), and the names the nearest one
    lacks (for the diagnostic)."""
    options = alternatives(requirement)
    if not options:
        return [], []
    best: list[str] = []
    for option in options:
        missing = [name for name in option if name not in holds]
        if not missing:
            return option, []
        if not best or len(missing) < len(best):
            best = missing
    return None, best


def provider_requirement(provider: IOService) -> Any:
    """The provider's ``IOServiceDEXTEntitlements``, or its family's when it carries none."""
    value = provider.get_property(DEXT_ENTITLEMENTS_KEY)
    if value is not None:
        return value
    for name in provider.class_chain:
        if name in _FAMILY_REQUIREMENTS:
            return _FAMILY_REQUIREMENTS[name]
    return None


def dext_refusal(entitlements: DextEntitlements, personality: Mapping[str, Any],
                 provider: IOService) -> str | None:
    """Why the dext may not drive ``provider`` (IOKit's log line's reason), or None."""
    if not entitlements.known:
        return None
    if not entitlements.is_true(DRIVERKIT):
        return (f"{DRIVERKIT} entitlement check failed: its driver process may not open its "
                "IOUserServer connection (kIOReturnNotPermitted)")
    option, missing = _held(provider_requirement(provider), entitlements.values)
    if option is None:
        return (f"provider entitlements check failed: {provider.get_name()} requires "
                f"{_named(missing)}")
    merged = {name: entitlements.values[name] for name in option}
    reason = _transport_refusal(provider, merged)
    if reason is not None:
        return f"provider entitlements check failed: {reason}"
    own, missing = _held(personality.get(DEXT_ENTITLEMENTS_KEY), entitlements.values)
    if own is None:
        return f"family entitlements check failed: the personality requires {_named(missing)}"
    return None


def _transport_refusal(provider: IOService, merged: Mapping[str, Any]) -> str | None:
    """The family's ``matchPropertyTable`` on the merged entitlement values."""
    if USB_TRANSPORT in merged and (provider.meta_cast("IOUSBHostInterface")
                                    or provider.meta_cast("IOUSBHostDevice")):
        return _usb_refusal(provider, merged[USB_TRANSPORT])
    if PCI_TRANSPORT in merged and provider.meta_cast("IOPCIDevice"):
        return _pci_refusal(provider, merged[PCI_TRANSPORT])
    return None


def _usb_refusal(provider: IOService, value: Any) -> str | None:
    """The USB transport entitlement: an array of dictionaries (``idVendor``, a number or
    ``*`` in development), one of which must describe the device."""
    if not isinstance(value, list):
        return f"{USB_TRANSPORT} must be an array of dictionaries"
    for item in value:
        if isinstance(item, dict) and item and all(
                _usb_value(provider, key) == wanted or wanted == "*"
                for key, wanted in item.items()):
            return None
    vendor = _usb_value(provider, "idVendor")
    shown = f"{int(vendor)} (0x{int(vendor):04x})" if isinstance(vendor, int) else repr(vendor)
    return f"{USB_TRANSPORT} does not list {provider.get_name()} (idVendor {shown})"


def _usb_value(provider: IOService, key: str) -> Any:
    """``key`` on the USB nub or, for an interface, on its device."""
    entry: Any = provider
    for _ in range(8):  # an interface's device is its provider; no deeper walk is needed
        if entry is None:
            return None
        value = entry.get_property(key)
        if value is not None:
            return value
        entry = entry.get_provider() if isinstance(entry, IOService) else None
    return None


def _pci_refusal(provider: IOService, value: Any) -> str | None:
    """``IOPCIDevice::matchPropertyTable(table)``: the PCI transport entitlement is ``true``
    (Apple's own) or an array of match dictionaries, one of which must match the function; a
    ``built-in`` function also needs the builtin entitlement string in that array."""
    if value is True:
        return None
    if not isinstance(value, list):
        return f"{PCI_TRANSPORT} is malformed (an array of match dictionaries)"
    matched = any(isinstance(item, dict) and _pci_matches(provider, item) for item in value)
    if not matched:
        return f"{PCI_TRANSPORT} has no dictionary matching {provider.get_name()}"
    if provider.get_property("built-in") is not None and BUILTIN not in value:
        return f"{provider.get_name()} is built-in and {PCI_TRANSPORT} lacks {BUILTIN}"
    return None


def _pci_matches(provider: IOService, table: Mapping[str, Any]) -> bool:
    from iokit_host.matching.families.pci import pci_match_property_table

    try:
        return pci_match_property_table(provider, table, 0)[0]
    except (TypeError, ValueError):  # a dictionary the family cannot read matches nothing
        return False


def _valued(task_entitlements: Collection[str], name: str) -> list[str]:
    """The values of an array entitlement a program holds (``NAME=VALUE`` grants)."""
    prefix = f"{name}="
    return [e.removeprefix(prefix) for e in task_entitlements if e.startswith(prefix)]


def user_client_refusal(entitlements: DextEntitlements, bundle_id: str,
                        task_entitlements: Collection[str], client_requirement: Any
                        ) -> str | None:
    """Why a program may not have this dext's user client (``kIOReturnNotPermitted``), or
    None (``serviceNewUserClient``)."""
    if not entitlements.known:
        return None
    required = _valued(task_entitlements, DRIVER_ACCESS)
    granted = bool(required) and all(entitlements.holds(n) for n in required)
    if not granted:
        granted = entitlements.holds(ALLOW_ANY_USERCLIENT) \
            or bundle_id in _valued(task_entitlements, USERCLIENT_ACCESS)
    if not granted:
        return (f"the program's {USERCLIENT_ACCESS} does not name {bundle_id}, and the dext "
                f"lacks {ALLOW_ANY_USERCLIENT}")
    option, missing = _held(client_requirement, task_entitlements)
    if option is None:
        return f"the user client requires {_named(missing)}"
    return None
