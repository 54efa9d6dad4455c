"""AppleSMC and its user client in-process: where it binds and the dispatch table's rules."""

from __future__ import annotations

from typing import Any

import pytest
from iokit_sample_smc.client import WRITE_ENTITLEMENT, Selector
from iokit_sample_smc.driver import AppleSMC
from iokit_sdk.returns import IOReturnError

from iokit_host.testing import assert_bound, assert_power_state, open_user_client, sleep, wake

KEXT = "com.example.driver.AppleSMC"


@pytest.fixture
def host(iokit_host: Any) -> Any:
    return iokit_host(kexts=[KEXT])


def test_binds_to_the_smc_as_applesmc_does(host: Any) -> None:
    assert_bound(host, "AppleSMC", nub="SMC", score=20000)


def test_reads_counts_and_writes_with_the_entitlement(host: Any) -> None:
    reader = open_user_client(host, "AppleSMC")
    assert reader.call_struct(Selector.READ_KEY, b"FNum", structure_size=-3) == b"ui8 \x02"
    (count,) = reader.call(Selector.KEY_COUNT, output_count=1)
    smc = assert_bound(host, "AppleSMC", nub="SMC")
    assert isinstance(smc, AppleSMC) and count == len(smc.keys) > 10
    with pytest.raises(IOReturnError, match="kIOReturnNotPrivileged"):
        reader.call_struct(Selector.WRITE_KEY, b"F1Mn\x07\xd0")
    writer = open_user_client(host, "AppleSMC", entitlements=[WRITE_ENTITLEMENT])
    writer.call_struct(Selector.WRITE_KEY, b"F1Mn\x07\xd0")
    assert reader.call_struct(Selector.READ_KEY, b"F1Mn", structure_size=-3) == b"fpe2\x07\xd0"
    reader.close()
    writer.close()


def test_powers_down_for_sleep_and_up_on_wake(host: Any) -> None:
    smc = assert_power_state(host, "AppleSMC", 1)
    assert smc.powered
    sleep(host)
    assert_power_state(host, smc, 0)
    assert not smc.powered
    wake(host)
    assert_power_state(host, smc, 1)
    assert smc.powered
