"""IOWLANDriver: the WLAN family's driver class (IO80211Controller's role).

Vendor drivers subclass it and override ``probe`` to claim the chips they know better. The
family's own personality keeps the score it was matched with (1500), so any vendor driver that
probes higher wins the ``IODefaultMatchCategory`` and this one is never started.
"""

from __future__ import annotations

from iokit_sdk import IOService

__all__ = ["FAMILY_API_VERSION", "IOWLANDriver"]

#: The family interface this build provides; vendor drivers may check it in ``start``.
FAMILY_API_VERSION = 2


class IOWLANDriver(IOService):
    """A Wi-Fi controller driver on a PCI nub.

    ``probe`` is inherited unchanged (it returns the personality's ``IOProbeScore``);
    ``start`` publishes the properties every WLAN controller carries.
    """

    def start(self, provider: IOService) -> bool:
        # The base class's start must succeed first: it is where IOKit wires up the driver.
        if not super().start(provider):
            return False
        self.set_property("IOWLANFamilyVersion", FAMILY_API_VERSION)
        self.set_property("IOWLANChip", self.chip_name(provider))
        # Publish the driver itself, as IOKit drivers do, so clients can match on it.
        self.register_service()
        return True

    def chip_name(self, provider: IOService) -> str:
        """The chip this driver runs; vendor subclasses name theirs."""
        return provider.get_name()
