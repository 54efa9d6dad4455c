"""A third-party Wi-Fi kext that matches by device name and keeps its personality's score."""

from __future__ import annotations

from iokit_sample_thirdparty_wifi.driver import ThirdPartyWiFiKext

__all__ = ["ThirdPartyWiFiKext"]
