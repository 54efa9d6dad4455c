"""Any input a program may send AppleSMCClient is answered with an IOReturn, never a
driver fault (``kIOReturnInternalError``)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("hypothesis")  # iokit-host's test extra brings it

from hypothesis import given, settings
from hypothesis import strategies as st
from iokit_sample_smc.client import WRITE_ENTITLEMENT
from iokit_sdk.returns import IOReturnError

from iokit_host.testing import open_user_client

KEXT = "com.example.driver.AppleSMC"


def test_any_input_gets_an_ioreturn(iokit_host: Any) -> None:
    host = iokit_host(kexts=[KEXT])
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
