"""A reply that does not encode is repaired: one driver that wrote its entry's table directly
(set_property and get_property copy, so nothing else can spoil a value) does not cost every
program its ``ioreg``; the value is replaced by a note and the kernel log names the driver and
the property."""

from __future__ import annotations

import pytest
from iokit_sdk import IOReturn, IOService
from iokit_sdk.iokitlib.wire import pack

from iokit_host.host import IOKitHost
from iokit_host.server.repair import repaired, where
from iokit_host.server.snapshot import take
from iokit_host.server.snapshot_rebuild import rebuild

from .test_requests import Wire, wire  # noqa: F401 - the fixture, said hello


def _spoil(driver: IOService) -> None:
    """What only writing the entry's private table can do: a value containing itself, and
    an object."""
    stats: list[object] = [1]
    stats.append(stats)
    stats.append(object())
    driver._props["Stats"] = stats


def test_a_value_a_driver_spoiled_is_replaced_and_everyone_gets_the_registry(
        wire: Wire, uc_host: IOKitHost, driver: IOService) -> None:  # noqa: F811 - the fixture imported above
    _spoil(driver)
    reply = wire.ask("tool.registry")
    assert reply["ret"] == IOReturn.SUCCESS
    (copy,) = [e for e in rebuild(reply["snapshot"]).entries()
               if e.get_property("Stats") is not None]
    stats = copy.get_property("Stats")
    assert stats[0] == 1 and stats[2] == "<object cannot travel>"
    (repair,) = [d for d in uc_host.diagnostics if d.reference == "kernel-reply-repaired"]
    assert "TestUCDriver 'TestUCDriver' property Stats[2]" in repair.message
    assert wire.ask("tool.registry")["ret"] == IOReturn.SUCCESS  # and again, for the next


def test_repaired_copies_what_travels_and_bounds_what_nests(uc_host: IOKitHost,
                                                           driver: IOService) -> None:
    _spoil(driver)
    fields = {"snapshot": take(uc_host.registry)}
    with pytest.raises((TypeError, ValueError)):
        pack(fields)
    fixed, replaced = repaired(fields)
    assert len(pack(fixed)) > 0  # now it travels
    assert replaced and all(path[:2] == ("snapshot", "entries") for path in replaced)
    assert where(fields, replaced[0]) == "TestUCDriver 'TestUCDriver' property Stats[2]"
    assert repaired({"a": [1, (2, b"x")], "n": None}) == ({"a": [1, [2, b"x"]], "n": None}, [])
