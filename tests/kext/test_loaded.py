"""The loaded-kext table's UUIDs: name-based (version 5), as ``uuid.uuid5`` makes them."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.kext.loaded import name_uuid


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_a_kext_uuid_is_uuid5_of_its_name_in_upper_case(name: str) -> None:
    assert name_uuid(name) == str(uuid.uuid5(uuid.NAMESPACE_URL, name)).upper()


def test_kextstat_prints_the_same_uuid_for_a_known_kext() -> None:
    expected = str(uuid.uuid5(uuid.NAMESPACE_URL, "kext:com.apple.kpi.iokit:23.6.0")).upper()
    assert name_uuid("kext:com.apple.kpi.iokit:23.6.0") == expected
