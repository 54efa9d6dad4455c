"""AppleSMC and its user client in-process: the dispatch table's rules, and any input a
program may send is answered with an IOReturn, never a driver fault."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sample_smc.client import WRITE_ENTITLEMENT, Selector
from iokit_sample_smc.driver import AppleSMC
from iokit_sdk.returns import IOReturnError

from iokit_host.testing import assert_bound, open_user_client

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


def test_any_input_gets_an_ioreturn(host: Any) -> None:
    client = open_user_client(host, "AppleSMC", entitlements=[WRITE_ENTITLEMENT])

    @settings(max_examples=150, deadline=None)
    @given(selector=st.integers(0, 5), data=st.binary(max_size=40))
    def check(selector: int, data: bytes) -> None:
        try:
            client.call_struct(selector, data, structure_size=-3)
        except IOReturnError as error:
            assert error.name != "kIOReturnInternalError"  # a driver fault would be that

    check()
    client.close()
