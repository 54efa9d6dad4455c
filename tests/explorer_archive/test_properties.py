"""Entries' property tables are decoded once per archive and held to an archive-wide budget:
a table that thousands of entries share costs one decoding, not one each."""

from __future__ import annotations

import pytest

from iokit_host.explorer_archive import parse_archive, properties
from iokit_host.machine.model import MachineModel, NubSpec
from tests.explorer_archive.archivekit import Entry, archive_bytes, small_machine

#: A binary plist stores equal data once: these entries all name the same table.
SHARED = {"k": list(range(500))}


def _sharing(count: int) -> list[Entry]:
    entries = small_machine()
    entries += [Entry(f"dev{n}", ["IOService", "IORegistryEntry"],
                      parents={"IOService": ["Mac-1"]}, properties=SHARED)
                for n in range(count)]
    return entries


def _devices(model: MachineModel) -> list[NubSpec]:
    return [nub for _, nub in model.nubs() if (nub.name or "").startswith("dev")]


def test_a_table_many_entries_share_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[int] = []
    real = properties.load_plist

    def counting(blob: bytes, **options: object) -> object:
        decoded.append(len(blob))
        return real(blob, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(properties, "load_plist", counting)
    model = parse_archive(archive_bytes(_sharing(60)), source="shared.ioreg")
    devices = _devices(model)
    assert len(devices) == 60
    assert all(dev.properties == {"k": list(range(500))} for dev in devices)
    # One decoding per distinct table (those of small_machine, and the shared one), not 60.
    assert len(decoded) <= len(small_machine()) + 1


def test_entries_sharing_a_table_each_get_their_own_copy() -> None:
    model = parse_archive(archive_bytes(_sharing(2)), source="shared.ioreg")
    first, second = _devices(model)
    first.properties["k"].append("changed")
    assert second.properties["k"] == list(range(500))


def test_past_the_archive_budget_entries_keep_no_properties(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # 501 items a copy: the budget holds the small machine's tables and three copies.
    monkeypatch.setattr(properties, "MAX_PROPERTY_ITEMS", 1600)
    model = parse_archive(archive_bytes(_sharing(10)), source="shared.ioreg")
    kept = [dev for dev in _devices(model) if dev.properties]
    assert 0 < len(kept) < 10 and len(_devices(model)) == 10
    (warning,) = [d for d in model.diagnostics
                  if d.reference == "ioreg-archive-properties-too-large"]
    assert warning.context["count"] == 10 - len(kept)
    assert warning.key is not None and warning.key.endswith(".properties")
    with pytest.raises(Exception, match="more than 1600 items"):
        parse_archive(archive_bytes(_sharing(10)), source="shared.ioreg", strict=True)


def test_an_unreadable_shared_table_is_noted_for_each_entry() -> None:
    import plistlib

    document = plistlib.loads(archive_bytes(_sharing(5)))
    objects = document["$objects"]
    devices = [o for o in objects if isinstance(o, dict) and "inheritance" in o
               and objects[o["name"].data].startswith("dev")]
    objects[devices[0]["properties"].data] = b"<plist><dict><key>a</key>"
    for device in devices:  # every entry names the one object, as a hostile archive may
        device["properties"] = devices[0]["properties"]
    model = parse_archive(plistlib.dumps(document, fmt=plistlib.FMT_BINARY), source="x.ioreg")
    (warning,) = [d for d in model.diagnostics if d.reference == "ioreg-archive-bad-properties"]
    assert warning.context["count"] == 5
    assert all(not dev.properties for dev in _devices(model))


def test_a_large_string_many_entries_share_is_charged_to_each(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A table of one string of 1 MB that 1,000 entries share held them to two items each:
    # the machine took 600 MB and a 200 MB file to write. Its bytes are charged too.
    monkeypatch.setattr(properties, "MAX_PROPERTY_BYTES", 5000)
    entries = small_machine() + [Entry(f"dev{n}", ["IOService", "IORegistryEntry"],
                                       parents={"IOService": ["Mac-1"]},
                                       properties={"text": "v" * 1000}) for n in range(10)]
    model = parse_archive(archive_bytes(entries), source="shared.ioreg")
    kept = [dev for dev in _devices(model) if dev.properties]
    assert 0 < len(kept) < 10 and len(_devices(model)) == 10
    (warning,) = [d for d in model.diagnostics
                  if d.reference == "ioreg-archive-properties-too-large"]
    assert "more than 5000 bytes of strings and data" in warning.message
