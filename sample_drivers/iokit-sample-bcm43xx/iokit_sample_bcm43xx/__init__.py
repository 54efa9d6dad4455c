"""A vendor Wi-Fi driver for the Broadcom BCM43xx chips (modelled on AppleBCMWLAN).

It links against the WLAN family library kext (``OSBundleLibraries`` requests
``com.example.iokit.WLANFamily`` 2.0) and subclasses its :class:`IOWLANDriver`, the way Apple's
vendor Wi-Fi drivers subclass IO80211Family's controller class.
"""

from __future__ import annotations

from iokit_sample_bcm43xx.driver import AppleBCM43xx

__all__ = ["AppleBCM43xx"]
