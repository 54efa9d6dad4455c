"""Testing drivers against modelled machines: the pytest plugin's helpers and assertions.

What a driver author imports in tests::

    from iokit_host.testing import assert_bound, assert_not_matched

    def test_binds(iokit_host):
        host = iokit_host(kexts=["com.example.driver.BCM43xx", "com.example.iokit.WLANFamily"])
        assert_bound(host, "AppleBCM43xx", nub="ARPT", score=5000)

The fixtures (``iokit_host``, ``iokit_machine``) come from :mod:`.pytest_plugin`, which pytest
loads by itself once iokit-host is installed. Power: ``sleep``, ``wake``, ``advance`` and
``assert_power_state`` (:mod:`.power`).
"""

from __future__ import annotations

from iokit_host.testing.fates import (
    assert_bound,
    assert_failed,
    assert_kext_refused,
    assert_not_bound,
    assert_not_matched,
    assert_waiting,
    drivers_named,
    explain_text,
)
from iokit_host.testing.kexts import KextNotFoundError, kext_bundles
from iokit_host.testing.machines import build_machine, machine_toml
from iokit_host.testing.power import advance, assert_power_state, sleep, wake
from iokit_host.testing.userclients import UserClientConnection, open_user_client

__all__ = [
    "KextNotFoundError",
    "UserClientConnection",
    "advance",
    "assert_bound",
    "assert_failed",
    "assert_kext_refused",
    "assert_not_bound",
    "assert_not_matched",
    "assert_power_state",
    "assert_waiting",
    "build_machine",
    "drivers_named",
    "explain_text",
    "kext_bundles",
    "machine_toml",
    "open_user_client",
    "sleep",
    "wake",
]
