"""Fuzzing archives and ``ioreg -a`` documents: whatever the bytes, only our own diagnostics.

An archive (or document) either imports, with each tolerated damage a warning of ours
(``ioreg-archive-*``, ``ioreg-dump-*``), and the model it gives builds into a registry, or it is
refused with ``ioreg-archive-invalid`` naming the file. Nothing else escapes, nothing recurses
without bound: damaged references, cycles, deep nesting, wrong types, cut-off bytes.
"""

from __future__ import annotations

import plistlib
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from iokit_host.conformance import check_model
from iokit_host.errors import IOKitError, Severity
from iokit_host.explorer_archive import ArchiveInvalid, parse_archive
from iokit_host.ioreg.plisttext import dumps
from iokit_host.machine import dump_machine, parse_machine
from iokit_host.machine.build import populate
from iokit_host.machine.errors import MachineModelError
from iokit_host.matching.classes import ClassRegistry
from iokit_host.registry import IORegistry
from tests.explorer_archive.archivekit import Entry, archive_bytes, small_machine

GOOD = archive_bytes(small_machine())
OBJECTS = len(plistlib.loads(GOOD)["$objects"])

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(1 << 63), (1 << 64) - 1),
                    st.text(max_size=8), st.binary(max_size=8),
                    st.sampled_from(["$null", "IOService", "IODeviceTree", "Root"]),
                    st.integers(0, OBJECTS + 3).map(plistlib.UID))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(
        st.sampled_from(["NS.objects", "NS.keys", "$class", "name", "inheritance",
                         "properties", "parentsInPlanes", "childrenInPlanes", "busyCount",
                         "NS.string", "x"]), inner, max_size=4)), max_leaves=12)


def _plain(value: Any) -> Any:
    """``value`` with None dropped (no plist type for it)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value if v is not None]
    return "$null" if value is None else value


def _only_ours(data: bytes) -> None:
    try:
        model = parse_archive(data, source="fuzz.ioreg")
    except ArchiveInvalid as error:
        assert error.diagnostic.file == "fuzz.ioreg"
        return
    for diagnostic in model.diagnostics:
        assert diagnostic.severity is Severity.WARNING
        assert diagnostic.reference.startswith(("ioreg-archive-", "ioreg-dump-"))
        assert diagnostic.file == "fuzz.ioreg"
    try:
        check_model(model)  # builds it into a registry and replays its drivers
    except IOKitError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, OBJECTS - 1), VALUES), min_size=1, max_size=6))
def test_replaced_objects_give_only_our_diagnostics(changes: list[tuple[int, Any]]) -> None:
    document = plistlib.loads(GOOD)
    for index, value in changes:
        document["$objects"][index] = _plain(value)
    _only_ours(plistlib.dumps(document, fmt=plistlib.FMT_BINARY))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, OBJECTS - 1), st.sampled_from(
    ["name", "inheritance", "properties", "parentsInPlanes", "childrenInPlanes", "busyCount",
     "isRegistered", "location", "namesInPlanes", "NS.objects", "NS.keys", "bundleID"]),
    VALUES), min_size=1, max_size=6))
def test_replaced_fields_give_only_our_diagnostics(changes: list[tuple[int, str, Any]]) -> None:
    document = plistlib.loads(GOOD)
    for index, key, value in changes:
        target = document["$objects"][index]
        if isinstance(target, dict):
            target[key] = _plain(value)
    _only_ours(plistlib.dumps(document, fmt=plistlib.FMT_BINARY))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(GOOD)), st.binary(max_size=16), st.integers(0, len(GOOD)))
def test_damaged_bytes_give_only_our_diagnostics(at: int, junk: bytes, cut: int) -> None:
    _only_ours((GOOD[:at] + junk + GOOD[at + len(junk):])[:max(cut, 8)])


ENTRY_KEYS = st.sampled_from(["IOObjectClass", "IORegistryEntryName", "IORegistryEntryLocation",
                              "IORegistryEntryID", "IOObjectInheritance", "IOServiceState",
                              "IORegistryEntryChildren", "IOProviderClass", "IOClass", "model",
                              "name", "compatible"])
DOCUMENTS = st.recursive(
    st.one_of(SCALARS.filter(lambda v: not isinstance(v, plistlib.UID)),
              st.sampled_from(["IOService", "IOPCIDevice", "/", "device-tree"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(ENTRY_KEYS, inner, max_size=5)),
    max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(DOCUMENTS)
def test_ioreg_a_documents_give_only_our_diagnostics(document: Any) -> None:
    # Written as ioreg writes it (control characters kept), which plistlib's writer refuses.
    _only_ours(dumps(_plain(document)))


def test_a_deep_ioreg_a_document_is_read_without_recursion() -> None:
    node: dict[str, Any] = {"IOObjectClass": "IOService", "IORegistryEntryName": "leaf"}
    for depth in range(3000):
        node = {"IOObjectClass": "IOService", "IORegistryEntryName": f"n{depth}",
                "IORegistryEntryChildren": [node]}
    root = {"IOObjectClass": "IORegistryEntry", "IORegistryEntryName": "Root",
            "IORegistryEntryChildren": [node]}
    model = parse_archive(dumps(root), source="deep.plist")
    assert sum(1 for _ in model.nubs()) == 3001


_NAMES = [f"e{n}" for n in range(6)]
ENTRIES = st.lists(st.tuples(
    st.sampled_from(["IOService", "IOResources", "IOPCIDevice"]),
    st.dictionaries(st.sampled_from(["IOService", "IODeviceTree", "IOPower", ""]),
                    st.lists(st.sampled_from(["Mac-1", "Root", *_NAMES]), min_size=1,
                             max_size=2, unique=True), min_size=1, max_size=3),
    st.sampled_from([0, 3, (1 << 31) - 1, 1 << 31, 1 << 41]),
    st.booleans()), min_size=1, max_size=len(_NAMES))


def _verdict(run: Any) -> tuple[str, str | None, str | None] | None:
    try:
        run()
    except MachineModelError as error:
        return error.ref, error.diagnostic.key, error.node
    return None


@settings(max_examples=150, deadline=None)
@given(ENTRIES)
def test_boot_and_import_give_one_verdict(drawn: list[tuple[str, dict[str, list[str]], int,
                                                              bool]]) -> None:
    # Links anywhere (loops, planes with no name), IOResources anywhere, any busy count:
    # boot and machine import (which writes the model and reads it back) agree.
    entries = small_machine()
    known = {"Root", "Mac-1", *_NAMES[:len(drawn)]}
    for (cls, parents, busy, registered), name in zip(drawn, _NAMES, strict=False):
        chain = ["IOService", "IORegistryEntry"]
        entries.append(Entry(name, chain if cls == "IOService" else [cls, *chain],
                             parents={plane: [p for p in names if p in known]
                                      for plane, names in parents.items()},
                             busy=busy, registered=registered))
    try:
        model = parse_archive(archive_bytes(entries), source="fuzz.ioreg")
    except ArchiveInvalid:
        return
    booted = _verdict(lambda: populate(SimpleNamespace(
        classes=ClassRegistry(), registry=IORegistry(), kernel=None), model))
    imported = _verdict(lambda: parse_machine(dump_machine(model), source="fuzz.ioreg"))
    assert booted == imported
