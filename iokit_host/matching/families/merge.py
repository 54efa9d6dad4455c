"""Provider property merging: ``IOProviderMergeProperties`` (xnu ``IOService::probeCandidates``)
and IOUSBFamily's ``IOProviderParentUSBNubMergeProperties``.

When a personality that matched carries ``IOProviderMergeProperties`` (a dictionary), the kernel
merges that dictionary into the *provider's* property table before probing
(``provider->setProperties``-style merge, key by key, overwriting). "Quirk" personalities such as
AppleUSBMergeNub and IOHIDFamily's property merger exist only for this effect. IOUSBFamily's
``IOUSBNub``-derived drivers additionally honour ``IOProviderParentUSBNubMergeProperties``: the
dictionary goes to the provider's nearest ancestor that is a USB device nub (an interface's
device), which is what a registry printout then shows there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iokit_sdk.entry import IORegistryEntry
from iokit_sdk.keys import PROVIDER_MERGE_PROPERTIES

__all__ = ["PROVIDER_PARENT_USB_NUB_MERGE_PROPERTIES", "USB_DEVICE_CLASSES",
           "merge_provider_properties"]

PROVIDER_PARENT_USB_NUB_MERGE_PROPERTIES = "IOProviderParentUSBNubMergeProperties"
USB_DEVICE_CLASSES = ("IOUSBDevice", "IOUSBHostDevice")


def _merge(target: IORegistryEntry, values: object) -> tuple[str, ...]:
    if not isinstance(values, Mapping):
        return ()
    for key, value in values.items():
        target.set_property(key, value)
    return tuple(values)


def _usb_device_above(nub: IORegistryEntry) -> IORegistryEntry | None:
    entry = nub.get_parent_entry()
    while entry is not None:
        if any(entry.meta_cast(name) for name in USB_DEVICE_CLASSES):
            return entry
        entry = entry.get_parent_entry()
    return None


def merge_provider_properties(nub: IORegistryEntry, personality: Mapping[str, Any]
                              ) -> tuple[str, ...]:
    """Merge the personality's ``IOProviderMergeProperties`` into ``nub`` (its provider) and
    its ``IOProviderParentUSBNubMergeProperties`` into the USB device above ``nub``.

    Returns the keys merged, in order; a missing or non-dictionary value merges nothing.
    """
    merged = _merge(nub, personality.get(PROVIDER_MERGE_PROPERTIES))
    parent_values = personality.get(PROVIDER_PARENT_USB_NUB_MERGE_PROPERTIES)
    if isinstance(parent_values, Mapping):
        device = _usb_device_above(nub)
        if device is not None:
            merged += _merge(device, parent_values)
    return merged
