"""A WLAN family library kext (modelled on Apple's IO80211Family).

A family is a library kext: other kexts link against it in ``OSBundleLibraries`` and subclass
its classes. This one exports :class:`IOWLANDriver` and also ships a personality that drives
the BCM4331 itself, at a modest score, so that a vendor driver can outbid it.
"""

from __future__ import annotations

from iokit_sample_wlan_family.driver import (
    FAMILY_API_VERSION,
    WLAN_OFF,
    WLAN_ON,
    WLAN_POWER_STATES,
    IOWLANDriver,
)

__all__ = ["FAMILY_API_VERSION", "WLAN_OFF", "WLAN_ON", "WLAN_POWER_STATES", "IOWLANDriver"]
