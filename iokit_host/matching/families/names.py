"""Name matching for device-tree, PCI, platform and ACPI nubs: xnu's ``IODTCompareNubName`` and
``CompareKey`` (IODeviceTreeSupport.cpp), as ``IOPCIBridge::compareNubName``,
``IOPlatformExpertDevice::compareName`` and ``IODTPlatformExpert::compareNubName`` use it.

``IODTCompareNubName`` tries the wanted string against the nub's ``name``, ``compatible``,
``device_type`` and ``model`` properties in that order. Each is a string or data holding
NUL-separated strings; a trailing ``*`` in the wanted string makes it a prefix match. The string
returned is the nub's string that matched (what IOKit stores as ``IONameMatched``).

Who uses what:

- PCI nubs (``IOPCIDevice``): the device-tree properties only (``IOPCIBridge::compareNubName``).
- The platform expert device: the device-tree properties only.
- Platform nubs (``IOPlatformDevice``): their provider, a device-tree platform expert
  (``IODTPlatformExpert::compareNubName``), tries the device-tree properties and then the
  entry's own name (``IORegistryEntry::compareName``) -- so ``bios`` matches a nub named
  ``bios`` that has no ``name`` property.
- ACPI nubs (``IOACPIPlatformDevice``): AppleACPIPlatform publishes an ACPI device's ``_HID`` as
  its ``name`` and its ``_CID`` list as ``compatible`` data (real dumps show no ``_HID``/``_CID``
  properties), so ``PNP0A03`` matches through ``compatible``. ``_HID``/``_CID`` properties are
  also tried when a model sets them, then the entry name (as for platform nubs: the ACPI
  platform expert is a device-tree platform expert; ``boot-ec`` matches by its entry name).
"""

from __future__ import annotations

from collections.abc import Iterator

from iokit_sdk.entry import IORegistryEntry

__all__ = [
    "ACPI_ID_KEYS",
    "DT_NAME_KEYS",
    "acpi_compare_name",
    "compare_key",
    "compared_names",
    "dt_compare_nub_name",
    "platform_compare_name",
]

DT_NAME_KEYS = ("name", "compatible", "device_type", "model")
ACPI_ID_KEYS = ("_HID", "_CID")


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        for part in value.split(b"\0"):
            if part:
                yield part.decode("utf-8", errors="replace")
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def compare_key(wanted: str, value: object) -> str | None:
    """``CompareKey``: the first string in ``value`` that ``wanted`` names, or None."""
    if not wanted:
        return None
    prefix = wanted.endswith("*")
    stem = wanted[:-1] if prefix else wanted
    for candidate in _strings(value):
        if candidate.startswith(stem) if prefix else candidate == stem:
            return candidate
    return None


def dt_compare_nub_name(nub: IORegistryEntry, wanted: str) -> str | None:
    """``IODTCompareNubName``: ``name``, ``compatible``, ``device_type``, ``model``, in order."""
    for key in DT_NAME_KEYS:
        found = compare_key(wanted, nub.get_property(key))
        if found is not None:
            return found
    return None


def platform_compare_name(nub: IORegistryEntry, wanted: str) -> str | None:
    """``IODTPlatformExpert::compareNubName``: device-tree names, then the entry name."""
    found = dt_compare_nub_name(nub, wanted)
    if found is None and nub.get_name() == wanted:
        found = wanted
    return found


def acpi_compare_name(nub: IORegistryEntry, wanted: str) -> str | None:
    """ACPI nubs: device-tree names (``_HID`` as name, ``_CID`` as compatible), ``_HID``/``_CID``
    properties when present, then the entry name."""
    found = dt_compare_nub_name(nub, wanted)
    for key in ACPI_ID_KEYS:
        if found is None:
            found = compare_key(wanted, nub.get_property(key))
    if found is None and nub.get_name() == wanted:
        found = wanted
    return found


def compared_names(nub: IORegistryEntry, comparer: object) -> str:
    """What ``comparer`` (one of this module's, or the entry-name default) compared a wanted
    name with on ``nub``, with the values, for the reason an ``IONameMatch`` failed."""
    keys: tuple[str, ...] = ()
    if comparer in (dt_compare_nub_name, platform_compare_name, acpi_compare_name):
        keys = DT_NAME_KEYS + (ACPI_ID_KEYS if comparer is acpi_compare_name else ())
    parts = [f"{key} " + ", ".join(repr(text) for text in found)
             for key in keys if (found := list(_strings(nub.get_property(key))))]
    if comparer is not dt_compare_nub_name:  # the others fall back to the entry's name
        parts.append(f"the entry name {nub.get_name()!r}")
    return "; ".join(parts) or "no name, compatible, device_type or model property"
