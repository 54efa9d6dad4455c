"""ThirdPartyWiFiKext: the smallest useful driver (an IOService subclass with start and stop).

It does not override ``probe``, so it bids its personality's ``IOProbeScore`` (600): enough to
beat a generic driver, not a vendor's. ``start`` and ``stop`` bracket the time it owns the nub.
"""

from __future__ import annotations

from iokit_sdk import IOService

__all__ = ["ThirdPartyWiFiKext"]


class ThirdPartyWiFiKext(IOService):
    """Claims a Wi-Fi nub matched by ``IONameMatch``."""

    def start(self, provider: IOService) -> bool:
        if not super().start(provider):
            return False
        # IONameMatched is set by the kernel to the name string that matched.
        self.set_property("ThirdPartyChip", self.get_property("IONameMatched", provider.get_name()))
        self.register_service()
        return True

    def stop(self, provider: IOService) -> None:
        self.remove_property("ThirdPartyChip")
        super().stop(provider)
