"""What changed between two snapshots: new, gone and changed entries by id."""

from __future__ import annotations

from iokit_host.explorer.changes import compare


def record(name: str, **extra: object) -> dict[str, object]:
    return {"name": name, "location": extra.pop("location", None),
            "chain": ["IOPCIDevice", "IOService"], **extra}


def test_added_removed_and_changed_entries_are_told_apart() -> None:
    old = {1: record("ARPT", location="0"), 2: record("GIGE"), 3: record("HDEF", busy=0)}
    new = {2: record("GIGE"), 3: record("HDEF", busy=1), 4: record("HOTP", location="7")}
    changes = compare(old, new, generation=5)
    assert changes.added == ((4, "HOTP@7 (IOPCIDevice)"),)
    assert changes.removed == ((1, "ARPT@0 (IOPCIDevice)"),)
    assert changes.changed == ((3, "HDEF (IOPCIDevice)"),)
    assert changes.to_json()["generation"] == 5


def test_the_same_records_are_no_change() -> None:
    same = {1: record("ARPT")}
    assert not compare(same, {1: record("ARPT")}, 2)
